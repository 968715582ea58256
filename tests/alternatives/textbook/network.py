"""Correct NeuralNetwork in another style: (n,) biases, in-place updates, log(p + 1e-8), a mask from
the pre-activation, labels from the logits."""
import numpy as np


class NeuralNetwork:
    def __init__(self, input_size, hidden_size, output_size):
        self.W1 = np.random.randn(input_size, hidden_size) * np.sqrt(1.0 / input_size)
        self.b1 = np.zeros(hidden_size)
        self.W2 = np.random.randn(hidden_size, output_size) * np.sqrt(1.0 / hidden_size)
        self.b2 = np.zeros(output_size)

    def forward(self, X):
        self.X = X
        self.Z1 = np.dot(X, self.W1) + self.b1
        self.A1 = np.where(self.Z1 > 0, self.Z1, 0.0)
        self.Z2 = np.dot(self.A1, self.W2) + self.b2
        e = np.exp(self.Z2 - np.max(self.Z2, axis=1, keepdims=True))
        self.P = e / np.sum(e, axis=1, keepdims=True)
        return self.P

    def cross_entropy_loss(self, y_pred, y_true):
        m = y_true.shape[0]
        return float(-np.log(y_pred[np.arange(m), y_true.argmax(axis=1)] + 1e-8).mean())

    def backward(self, y_true):
        m = len(y_true)
        dZ2 = (self.P - y_true) / m
        dA1 = dZ2 @ self.W2.T
        dZ1 = dA1 * (self.Z1 > 0)
        return {"dW1": self.X.T @ dZ1, "db1": np.sum(dZ1, axis=0), "dW2": self.A1.T @ dZ2,
                "db2": np.sum(dZ2, axis=0)}

    def update_params(self, grads, learning_rate):
        for name in ("W1", "b1", "W2", "b2"):
            getattr(self, name)[...] -= learning_rate * grads["d" + name].reshape(getattr(self, name).shape)

    def train_step(self, X, y_true, learning_rate):
        loss = self.cross_entropy_loss(self.forward(X), y_true)
        self.update_params(self.backward(y_true), learning_rate)
        return loss

    def predict(self, X):
        self.forward(X)
        return self.Z2.argmax(axis=1)
