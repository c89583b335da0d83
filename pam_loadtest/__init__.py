"""`pam-loadtest`: a simulated contact center against a running PAM (docs/loadtest.md)."""
