"""First-order methods: each step reads one gradient (gd, sgd, momentum, nesterov, signsgd, adagrad, rmsprop, adadelta, adam, adamw, lion)."""
