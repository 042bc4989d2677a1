#!/usr/bin/env python3
"""Writes deliberately broken copies of the deploy files, each of which one checker must reject.

    make_broken.py DEPLOY_DIR OUT_DIR

Prints one line per copy: `CHECK FILE TOKEN WHAT`, CHECK being compose-schema, compose-refs,
k8s-schema or k8s-refs. scripts/validate-deploy runs that check on FILE and fails if it passes,
or if it fails without naming TOKEN (the fault) in its output:
a checker that accepts these proves nothing when it accepts the real files. Each copy is the
real file with one fault, so the checks stay honest as the files change.
"""

import copy
import glob
import os
import sys

import yaml


def load_compose(deploy):
    path = os.path.join(deploy, "docker-compose.yml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    # The copies live elsewhere: the files they name must stay reachable.
    for kind in ("configs", "secrets"):
        for spec in (doc.get(kind) or {}).values():
            if "file" in spec:
                spec["file"] = os.path.normpath(os.path.join(deploy, spec["file"]))
    return doc


def load_kubernetes(deploy):
    docs = []
    for path in sorted(glob.glob(os.path.join(deploy, "kubernetes", "*.yaml"))
                       + glob.glob(os.path.join(deploy, "kubernetes", "secrets", "*.yaml"))):
        with open(path) as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    return docs


def find(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def main():
    deploy, out = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    written = []

    def write_compose(check, name, token, what, mutate):
        doc = load_compose(deploy)
        mutate(doc)
        path = os.path.join(out, f"compose-{name}.yml")
        with open(path, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        written.append((check, path, token, what))

    def write_kubernetes(check, name, token, what, mutate):
        docs = load_kubernetes(deploy)
        mutate(docs)
        path = os.path.join(out, f"k8s-{name}.yaml")
        with open(path, "w") as f:
            yaml.safe_dump_all(docs, f, sort_keys=False)
        written.append((check, path, token, what))

    router = lambda doc: doc["services"]["router"]  # noqa: E731

    write_compose("compose-schema", "unknown-key", "restart_policy", "a service key that does not exist",
                  lambda d: router(d).update(restart_policy="always"))
    write_compose("compose-schema", "bad-condition", "depends_on", "a depends_on condition that does not exist",
                  lambda d: d["services"]["worker-0"]["depends_on"]["redis"].update(condition="healthy"))
    write_compose("compose-schema", "bad-ports", "ports", "ports as a mapping",
                  lambda d: router(d).update(ports={"8080": 8080}))
    write_compose("compose-refs", "undeclared-secret", "no_such_secret", "a worker using an undeclared secret",
                  lambda d: d["services"]["worker-0"]["secrets"].append("no_such_secret"))
    write_compose("compose-refs", "config-typo", "advertize", "a tessera flag misspelt on a command line",
                  lambda d: d["services"]["worker-1"]["command"].extend(["--advertize", "tcp://x:1"]))

    def container(docs, kind, name):
        return find(docs, kind, name)["spec"]["template"]["spec"]["containers"][0]

    write_kubernetes("k8s-schema", "unknown-field", "readinessProbes", "a container field that does not exist (--strict)",
                     lambda ds: container(ds, "Deployment", "tessera-router").update(readinessProbes={}))
    write_kubernetes("k8s-schema", "bad-type", "replicas", "replicas as a word",
                     lambda ds: find(ds, "StatefulSet", "tessera-worker")["spec"].update(replicas="two"))
    write_kubernetes("k8s-refs", "selector", "rooter", "a Service selecting no pod",
                     lambda ds: find(ds, "Service", "tessera-router")["spec"]["selector"].update(
                         {"app.kubernetes.io/component": "rooter"}))
    write_kubernetes("k8s-refs", "secret-key", "tessera-worker-2.key", "a worker key the Secret does not hold",
                     lambda ds: find(ds, "StatefulSet", "tessera-worker")["spec"].update(replicas=3))

    def init_args(docs, kind, name):
        return find(docs, kind, name)["spec"]["template"]["spec"]["initContainers"][0]["args"]

    write_kubernetes("k8s-refs", "init-copy", "router.pub", "the router's public key copied where the worker does not look",
                     lambda ds: init_args(ds, "StatefulSet", "tessera-worker").__setitem__(
                         0, init_args(ds, "StatefulSet", "tessera-worker")[0].replace(
                             "/etc/tessera/keys/router.pub", "/tmp/router.pub")))

    for check, path, token, what in written:
        print(check, path, token, what)


if __name__ == "__main__":
    main()
