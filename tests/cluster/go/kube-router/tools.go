//go:build tools

// The test cluster's NetworkPolicy enforcer: kube-router's firewall controller (iptables +
// ipset), the one k3s embeds, run alone (--run-router=false --run-service-proxy=false).
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
