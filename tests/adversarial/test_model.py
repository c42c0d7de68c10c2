"""test_model.py — adversarial cases for the model area (issue 12). Placeholder until its cases land:
it reports itself skipped (exit 77), never passed."""
import sys

print("skipped: the model cases are not written yet")
sys.exit(77)
