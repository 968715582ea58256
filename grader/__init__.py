"""nn-autograder: grade NumPy neural-network coursework against PyTorch references."""
__version__ = "0.1.0"
