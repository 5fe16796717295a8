//go:build tools

// The test cluster's volume provisioner: local-path-provisioner, the one k3s deploys.
package tools

import _ "github.com/rancher/local-path-provisioner"
