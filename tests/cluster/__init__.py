"""The test cluster (README.md here): Kubernetes built from upstream Go modules, run on this machine."""
