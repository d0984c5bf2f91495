import os

# Set before anything reads the settings (importing api.app does): tracking URLs
# are signed, and the tests' processes (and the stacks they start) share this key.
os.environ.setdefault("GOALFLOW_SECRET_KEY", "goalflow-tests-secret-key")
