//go:build tools

// The test cluster's NetworkPolicy enforcer: kube-network-policies, the one kind
// runs (nftables + nfqueue), a maintained alternative to k3s's embedded kube-router.
package tools

import _ "sigs.k8s.io/kube-network-policies/cmd"
