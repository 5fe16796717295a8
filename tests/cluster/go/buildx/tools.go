//go:build tools

// docker buildx, the CLI plugin community.docker.docker_image_build drives (the
// notebook_image and model_serving roles build with it); Debian 12 packages none.
package tools

import _ "github.com/docker/buildx/cmd/buildx"
