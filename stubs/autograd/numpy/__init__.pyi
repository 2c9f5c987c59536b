# Typing stub: autograd.numpy wraps numpy function by function with the same signatures,
# so re-exporting numpy's own annotations keeps `mypy --strict` meaningful on the math.
from numpy import *
from numpy import linalg as linalg
from numpy import random as random
