//go:build tools

// The test cluster's ingress controller: Traefik v3, the one k3s deploys, serving the
// Ingresses the roles make (TLS from their Secrets) on the node's ports 80 and 443.
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
