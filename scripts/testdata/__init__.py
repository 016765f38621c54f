"""Test data made from real digits and drawn strokes, for the tests, the benchmarks and the scripts.

Nothing here is used by the apps: `mnist` (the one loader of the 5,000 real MNIST digits all of it starts
from), `rows` (rows of digits like photos, drawings, pen strokes, a video, odd images), `synthetic` (paper
photos, redrawn digits, drawn non-digits), `strokes` (stroke widths and centre lines) and `writers` (how people
really write: slanted digits, the styles MNIST has few of).
"""
