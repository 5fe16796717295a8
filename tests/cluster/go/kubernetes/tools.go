//go:build tools

// The Kubernetes components of the test cluster, at the minor of the pinned k3s.
// k8s.io/kubernetes replaces its staging modules by local paths, which a module
// zip does not carry, so go.mod replaces each by its published v0.35.x.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
