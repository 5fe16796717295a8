//go:build tools

// Only here so that go.mod and go.sum pin helm's module and every dependency
// (tests/tools/k8s_binaries.py builds helm.sh/helm/v3/cmd/helm from them).
package tools

import _ "helm.sh/helm/v3/cmd/helm"
