# The course's own class, exactly as handed out (course notebook 002, "Tu Código NumPy"), with its
# log(y_pred + 1e-8) loss and (1, n) biases. Graded with [names] NeuralNetwork = "NeuralNetworkNumPy".
import numpy as np

class NeuralNetworkNumPy:
    """Red neuronal desde cero con NumPy."""
    
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        # Inicializaci√≥n Xavier
        self.W1 = np.random.randn(input_size, hidden_size) * np.sqrt(2.0 / input_size)
        self.b1 = np.zeros((1, hidden_size))
        self.W2 = np.random.randn(hidden_size, output_size) * np.sqrt(2.0 / hidden_size)
        self.b2 = np.zeros((1, output_size))
        
        # Cache para backward
        self.cache = {}
        
    def relu(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(0, z)
    
    def relu_derivative(self, z: np.ndarray) -> np.ndarray:
        return (z > 0).astype(float)
    
    def softmax(self, z: np.ndarray) -> np.ndarray:
        exp_z = np.exp(z - np.max(z, axis=1, keepdims=True))  # Numerical stability
        return exp_z / np.sum(exp_z, axis=1, keepdims=True)
    
    def forward(self, X: np.ndarray) -> np.ndarray:
        # Capa 1
        self.cache['X'] = X
        self.cache['Z1'] = X @ self.W1 + self.b1
        self.cache['A1'] = self.relu(self.cache['Z1'])
        
        # Capa 2
        self.cache['Z2'] = self.cache['A1'] @ self.W2 + self.b2
        self.cache['A2'] = self.softmax(self.cache['Z2'])
        
        return self.cache['A2']
    
    def cross_entropy_loss(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        m = y_true.shape[0]
        # Evitar log(0)
        log_probs = -np.log(y_pred[range(m), y_true.argmax(axis=1)] + 1e-8)
        return np.mean(log_probs)
    
    def backward(self, y_true: np.ndarray) -> dict:
        m = y_true.shape[0]
        grads = {}
        
        # Gradiente de softmax + cross-entropy (simplificado)
        dZ2 = self.cache['A2'] - y_true  # (m, output_size)
        
        # Gradientes capa 2
        grads['dW2'] = (1/m) * self.cache['A1'].T @ dZ2
        grads['db2'] = (1/m) * np.sum(dZ2, axis=0, keepdims=True)
        
        # Propagar hacia atr√°s
        dA1 = dZ2 @ self.W2.T
        dZ1 = dA1 * self.relu_derivative(self.cache['Z1'])
        
        # Gradientes capa 1
        grads['dW1'] = (1/m) * self.cache['X'].T @ dZ1
        grads['db1'] = (1/m) * np.sum(dZ1, axis=0, keepdims=True)
        
        return grads
    
    def update_params(self, grads: dict, learning_rate: float):
        self.W1 -= learning_rate * grads['dW1']
        self.b1 -= learning_rate * grads['db1']
        self.W2 -= learning_rate * grads['dW2']
        self.b2 -= learning_rate * grads['db2']
    
    def train_step(self, X: np.ndarray, y: np.ndarray, learning_rate: float) -> float:
        # Forward
        y_pred = self.forward(X)
        loss = self.cross_entropy_loss(y_pred, y)
        
        # Backward
        grads = self.backward(y)
        
        # Update
        self.update_params(grads, learning_rate)
        
        return loss
    
    def predict(self, X: np.ndarray) -> np.ndarray:
        probs = self.forward(X)
        return np.argmax(probs, axis=1)
