//go:build tools

// Only here so that go.mod and go.sum pin kubectl's module and every dependency
// (tests/tools/k8s_binaries.py builds k8s.io/kubernetes/cmd/kubectl from them).
package tools

import _ "k8s.io/kubernetes/cmd/kubectl"
