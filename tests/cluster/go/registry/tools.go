//go:build tools

// The test cluster's image registry (CNCF distribution): the lab mirror that the
// node's containerd pulls docker.io, quay.io, ... from, and the registry the
// notebook_image role pushes to.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
