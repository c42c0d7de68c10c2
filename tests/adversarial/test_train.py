"""test_train.py — adversarial cases for the train area (issue 12). Placeholder until its cases land:
it reports itself skipped (exit 77), never passed."""
import sys

print("skipped: the train cases are not written yet")
sys.exit(77)
