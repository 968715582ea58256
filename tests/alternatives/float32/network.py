"""The model solution's network in float32: weights, data and labels."""
import numpy as np


class NeuralNetwork:
    def __init__(self, input_size, hidden_size, output_size, seed=0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(0, np.sqrt(2 / input_size), (input_size, hidden_size)).astype(np.float32)
        self.b1 = np.zeros((1, hidden_size), np.float32)
        self.W2 = rng.normal(0, np.sqrt(2 / hidden_size), (hidden_size, output_size)).astype(np.float32)
        self.b2 = np.zeros((1, output_size), np.float32)

    def forward(self, X):
        X = X.astype(np.float32)
        self.X = X
        self.Z1 = X @ self.W1 + self.b1
        self.A1 = np.maximum(0, self.Z1)
        Z2 = self.A1 @ self.W2 + self.b2
        Z2 = Z2 - Z2.max(axis=1, keepdims=True)
        E = np.exp(Z2)
        self.probs = E / E.sum(axis=1, keepdims=True)
        return self.probs

    def cross_entropy_loss(self, y_pred, y_true):
        return float(-(y_true * np.log(y_pred + 1e-12)).sum(axis=1).mean())

    def backward(self, y_true):
        m = y_true.shape[0]
        y_true = y_true.astype(np.float32)
        dZ2 = (self.probs - y_true) / m
        dW2 = self.A1.T @ dZ2
        db2 = dZ2.sum(axis=0, keepdims=True)
        dZ1 = (dZ2 @ self.W2.T) * (self.Z1 > 0)
        dW1 = self.X.T @ dZ1
        db1 = dZ1.sum(axis=0, keepdims=True)
        return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}

    def update_params(self, grads, learning_rate):
        self.W1 = self.W1 - learning_rate * grads["dW1"]
        self.b1 = self.b1 - learning_rate * grads["db1"]
        self.W2 = self.W2 - learning_rate * grads["dW2"]
        self.b2 = self.b2 - learning_rate * grads["db2"]

    def train_step(self, X, y_true, learning_rate):
        probs = self.forward(X)
        loss = self.cross_entropy_loss(probs, y_true)
        self.update_params(self.backward(y_true), learning_rate)
        return loss

    def predict(self, X):
        return np.argmax(self.forward(X), axis=1)
