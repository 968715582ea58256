"""Output formats checked against their published schemas: junit.xml against Jenkins' JUnit XSD."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema
from helpers import make_submission

from grader.report.junit import render_junit

JUNIT_XSD = Path(__file__).with_name("schemas") / "junit-10.xsd"


def test_junit_xml_validates_against_the_jenkins_junit_schema(grade_it, tmp_path):
    sub = make_submission(tmp_path / "sub", {"layers.py": [
        ("return np.tanh(x)", "print('\\x1b[31mred\\x00 <&>'); return x"),  # a failure, with hostile output
        ("return np.maximum(0, x)", "raise ValueError('boom')")]})  # an error
    result = grade_it(sub, exercises=["layers"])
    text = render_junit(result)
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    schema.validate(text)  # raises with the element and attribute at fault

    root = ET.fromstring(text)
    assert root.tag == "testsuites" and "skipped" not in root.attrib
    [suite] = root
    assert int(suite.get("failures")) >= 1 and int(suite.get("errors")) >= 1 and "skipped" in suite.attrib
    assert int(root.get("tests")) == len(list(result.checks()))


def test_the_schema_refuses_what_it_should():
    """The XSD in tests/ is the strict one: a `skipped` attribute on <testsuites> does not validate."""
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    bad = ('<testsuites name="a" tests="1" failures="0" errors="0" skipped="0">'
           '<testsuite name="a" tests="1" failures="0" errors="0"><testcase name="t"/></testsuite></testsuites>')
    assert not schema.is_valid(bad)
    assert schema.is_valid(bad.replace(' skipped="0"', "", 1))
