#!/usr/bin/env python3
"""What the schemas cannot see: references between the deploy files, and the tessera config files' keys.

    check_refs.py compose deploy/docker-compose.yml
    check_refs.py kubernetes deploy/kubernetes/*.yaml deploy/kubernetes/secrets/*.yaml
    check_refs.py systemd deploy/systemd/tessera-router.service deploy/systemd/router.yaml
    check_refs.py dockerfile deploy/Dockerfile

The compose-spec and Kubernetes schemas check each document's shape alone: a service using an
undeclared secret, a Service whose selector matches no pod, a probe naming a port that no
container has or a key misspelt in a --config file all pass them. Prints one line per problem
and exits 1 if there is any. Part of scripts/validate-deploy.
"""

import fnmatch
import os
import re
import shlex
import sys

import yaml

# The flags `tessera router` and `tessera worker` take, without `--`: the keys a --config file
# may hold (an unknown key is an error for tessera too).
ROUTER_KEYS = {
    "model", "model-id", "listen", "workers-bind", "tp", "pp", "threads", "standby",
    "standby-mode", "curve-secret-key", "authorized-keys", "insecure", "tls-cert", "tls-key",
    "redis", "api-key", "max-running", "max-queue", "step-tokens", "kv-tokens", "max-tokens",
    "max-prompt-tokens", "max-body-bytes", "request-timeout", "prefix-cache-mb", "fragment-ttl",
    "request-ttl", "resume-grace", "request-lease", "router-name", "worker-timeout",
    "recovery-timeout", "local-transport",
}
WORKER_KEYS = {
    "router", "model", "curve-secret-key", "router-public-key", "data-bind", "advertise", "name",
    "threads", "redis", "insecure", "prefix-cache-mb",
}
# Keys a remote deployment must set: without them a worker cannot find or trust its router.
ROUTER_REQUIRED = {"workers-bind", "curve-secret-key", "authorized-keys"}
WORKER_REQUIRED = {"router", "curve-secret-key", "router-public-key", "data-bind"}

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def check_tessera_config(where, text, role, args=()):
    """A --config file: YAML mapping, known keys only, the keys a remote deployment needs
    (in the file or among the flags `args` given beside it)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem(where, f"not YAML: {error}")
        return {}
    if not isinstance(doc, dict):
        problem(where, "a --config file must be a mapping")
        return {}
    known, required = (ROUTER_KEYS, ROUTER_REQUIRED) if role == "router" else (WORKER_KEYS, WORKER_REQUIRED)
    for key in sorted(set(doc) - known):
        problem(where, f"unknown {role} key {key!r}")
    flags = {arg[2:] for arg in args if isinstance(arg, str) and arg.startswith("--")}
    for key in sorted(flags - known - {"config"}):
        problem(where, f"unknown {role} flag --{key}")
    for key in sorted(required - set(doc) - flags):
        problem(where, f"missing {role} key {key!r}")
    if doc.get("insecure") is True:
        problem(where, "insecure: true in a deployment file")
    return doc


# ---- docker compose ---------------------------------------------------------------------------

def check_compose(path):
    base = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        doc = yaml.safe_load(f)
    services = doc.get("services") or {}
    declared = {kind: set((doc.get(kind) or {}).keys()) for kind in ("secrets", "configs", "networks", "volumes")}
    for kind in ("configs",):  # secrets are made by the operator; configs ship with the repo
        for name, spec in (doc.get(kind) or {}).items():
            file = (spec or {}).get("file")
            if file and not os.path.exists(os.path.join(base, file)):
                problem(path, f"{kind} {name}: file {file} does not exist")
    for name, service in services.items():
        where = f"{path}: service {name}"
        targets = {}
        for kind in ("secrets", "configs"):
            for entry in service.get(kind) or []:
                source = entry if isinstance(entry, str) else entry.get("source")
                target = entry if isinstance(entry, str) else entry.get("target", source)
                if source not in declared[kind]:
                    problem(where, f"uses undeclared {kind[:-1]} {source!r}")
                if kind == "secrets" and not target.startswith("/"):
                    target = "/run/secrets/" + target
                targets[target] = (kind, source)
        networks = service.get("networks") or []
        for network in networks if isinstance(networks, list) else networks.keys():
            if network not in declared["networks"]:
                problem(where, f"uses undeclared network {network!r}")
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if source and not source.startswith((".", "/", "~")) and source not in declared["volumes"]:
                problem(where, f"uses undeclared volume {source!r}")
        depends = service.get("depends_on") or []
        for other in depends if isinstance(depends, list) else depends.keys():
            if other not in services:
                problem(where, f"depends on unknown service {other!r}")
        # The tessera config file mounted into the service: its keys, and every file it names
        # under /run/secrets must be one of this service's secrets.
        command = service.get("command") or []
        role = command[0] if command and command[0] in ("router", "worker") else None
        if role is None:
            continue
        config_path = command[command.index("--config") + 1] if "--config" in command else None
        if config_path not in targets:
            problem(where, f"--config {config_path} is not one of its configs")
            continue
        config_name = targets[config_path][1]
        config_file = os.path.join(base, doc["configs"][config_name]["file"])
        with open(config_file) as f:
            config = check_tessera_config(config_file, f.read(), role, command)
        for key, value in config.items():
            if isinstance(value, str) and value.startswith("/run/secrets/") and value not in targets:
                problem(where, f"{key}: {value} is not one of its secrets")
        if role == "worker" and "--advertise" in command:
            host = re.sub(r"^tcp://([^:]+):\d+$", r"\1", command[command.index("--advertise") + 1])
            if host not in services:
                problem(where, f"--advertise names {host!r}, which is no service")


# ---- Dockerfile -------------------------------------------------------------------------------

def ignore_match(path, pattern):
    """A .dockerignore pattern against a path or one of its parents (segment by segment, as
    Docker's matcher does, so `*` never crosses a `/`)."""
    parts, pats = path.split("/"), pattern.strip("/").split("/")
    return len(pats) <= len(parts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats))


def check_dockerfile(dockerfile):
    """Every file the Dockerfile COPYs from the context must get past its .dockerignore."""
    ignore_file = dockerfile + ".dockerignore"
    patterns = []
    if os.path.exists(ignore_file):
        with open(ignore_file) as f:
            patterns = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    with open(dockerfile) as f:
        for number, line in enumerate(f, 1):
            words = shlex.split(line, comments=True)
            if not words or words[0].upper() not in ("COPY", "ADD"):
                continue
            if any(w.startswith("--from") for w in words[1:]):
                continue
            sources = [w for w in words[1:-1] if not w.startswith("--")]
            for source in sources:
                source = os.path.normpath(source)
                included = True
                for pattern in patterns:
                    negated = pattern.startswith("!")
                    if ignore_match(source, pattern.lstrip("!")):
                        included = negated
                if not included:
                    problem(f"{dockerfile}:{number}", f"COPY {source}: excluded by {ignore_file}")


# ---- systemd ----------------------------------------------------------------------------------

def check_systemd(unit, config_file):
    """A unit's ExecStart flags with the example --config file it reads."""
    exec_start = None
    credentials = set()
    with open(unit) as f:
        for line in f:
            if line.startswith("ExecStart="):
                exec_start = line[len("ExecStart="):].split()
            elif line.startswith("LoadCredential="):
                credentials.add(line[len("LoadCredential="):].split(":", 1)[0].strip())
    if not exec_start or len(exec_start) < 2 or exec_start[1] not in ("router", "worker"):
        problem(unit, "ExecStart is not `tessera router|worker …`")
        return
    role, args = exec_start[1], exec_start[2:]
    with open(config_file) as f:
        check_tessera_config(config_file, f.read(), role, args)
    for arg in args:
        if arg.startswith("%d/") and arg[3:] not in credentials:
            problem(unit, f"{arg} is no LoadCredential= of the unit")


# ---- kubernetes -------------------------------------------------------------------------------

def pod_templates(objects):
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            yield obj, obj["spec"]["template"]


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_kubernetes(paths):
    objects = []
    for path in paths:
        with open(path) as f:
            for obj in yaml.safe_load_all(f):
                if obj:
                    obj["_file"] = path
                    objects.append(obj)
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    templates = list(pod_templates(objects))

    def keys_of(kind, name):
        store = configmaps if kind == "configMap" else secrets
        obj = store.get(name)
        if obj is None:
            return None
        return set((obj.get("data") or {}).keys()) | set((obj.get("stringData") or {}).keys())

    for workload, template in templates:
        where = f"{workload['_file']}: {workload['kind']} {workload['metadata']['name']}"
        labels = template["metadata"].get("labels", {})
        if not matches(workload["spec"]["selector"].get("matchLabels"), labels):
            problem(where, "selector does not match its pod template's labels")
        spec = template["spec"]
        volumes = {}
        for volume in spec.get("volumes", []):
            for kind, field in (("configMap", "name"), ("secret", "secretName")):
                if kind in volume:
                    name = volume[kind][field]
                    keys = keys_of(kind, name)
                    if keys is None:
                        problem(where, f"volume {volume['name']}: no {kind} {name!r} in these manifests")
                        keys = set()
                    for item in volume[kind].get("items", []):
                        if item["key"] not in keys:
                            problem(where, f"volume {volume['name']}: {kind} {name} has no key {item['key']!r}")
                    volumes[volume["name"]] = (kind, name, keys)
            if not any(k in volume for k in ("configMap", "secret")):
                volumes[volume["name"]] = (None, None, set())
        replicas = workload["spec"].get("replicas", 1)

        def expand(key):
            """A file name with $(POD_NAME) as every pod of a StatefulSet names it."""
            if "$(POD_NAME)" in key and workload["kind"] == "StatefulSet":
                return [key.replace("$(POD_NAME)", f"{workload['metadata']['name']}-{i}") for i in range(replicas)]
            return [key]

        # Init containers that copy files into an emptyDir (`cp [-f] SOURCE… DEST`): each
        # source must be a key of the volume it is read from; the emptyDir then holds the
        # copies, under those names (or DEST's).
        for init in spec.get("initContainers", []):
            iwhere = f"{where} init container {init['name']}"
            imounts = {}
            for mount in init.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    problem(iwhere, f"mounts unknown volume {mount['name']!r}")
                else:
                    imounts[mount["mountPath"].rstrip("/")] = mount["name"]
            script = " ".join((init.get("command") or []) + (init.get("args") or []))
            for step in re.split(r"&&|;|\|\|", script):
                words = [w for w in shlex.split(step) if not w.startswith("-")]
                if len(words) < 3 or words[0] != "cp":
                    continue
                sources, dest = words[1:-1], words[-1]
                for source in sources:
                    directory, _, key = source.rpartition("/")
                    kind, name, keys = volumes.get(imounts.get(directory), (None, None, None))
                    if keys is None:
                        problem(iwhere, f"cp {source}: on no mounted volume")
                        continue
                    for k in expand(key):
                        if kind and k not in keys:
                            problem(iwhere, f"cp {source}: {kind} {name} has no key {k!r}")
                target = imounts.get(dest.rstrip("/"))
                if target is not None:
                    copies = {os.path.basename(src) for src in sources}
                else:
                    target = imounts.get(os.path.dirname(dest))
                    copies = {os.path.basename(dest)}
                if target is None or volumes[target][0] is not None:
                    problem(iwhere, f"cp … {dest}: not into a mounted emptyDir")
                    continue
                volumes[target] = (None, target, volumes[target][2] | copies)
        if workload["kind"] == "StatefulSet":
            service = by_kind.get("Service", {}).get(workload["spec"]["serviceName"])
            if service is None or service["spec"].get("clusterIP") != "None":
                problem(where, f"serviceName {workload['spec']['serviceName']} is no headless Service here")
        for container in spec["containers"]:
            cwhere = f"{where} container {container['name']}"
            ports = {p.get("name") for p in container.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                handler = container.get(probe, {})
                for kind in ("httpGet", "tcpSocket"):
                    port = handler.get(kind, {}).get("port")
                    if isinstance(port, str) and port not in ports:
                        problem(cwhere, f"{probe} names port {port!r}, which it does not have")
            mounts = {}
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    problem(cwhere, f"mounts unknown volume {mount['name']!r}")
                else:
                    mounts[mount["mountPath"].rstrip("/")] = volumes[mount["name"]]
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    keys = keys_of("secret", ref["name"])
                    if keys is None or ref["key"] not in keys:
                        problem(cwhere, f"env {env['name']}: no key {ref['key']!r} in secret {ref['name']!r}")
            # A tessera container: its --config file from a mounted ConfigMap, and every file
            # that config or its arguments name must be a key of a mounted volume.
            args = container.get("args") or []
            role = args[0] if args and args[0] in ("router", "worker") else None
            if role is None:
                continue

            def resolve(path, what):
                directory, _, key = path.rpartition("/")
                if directory not in mounts:
                    problem(cwhere, f"{what}: {path} is on no mounted volume")
                    return None
                kind, name, keys = mounts[directory]
                wanted = expand(key)
                for k in wanted:
                    if k not in keys:
                        source = f"{kind} {name}" if kind else f"emptyDir {name} (from no init container)"
                        problem(cwhere, f"{what}: {source} has no file {k!r}")
                return (kind, name, wanted[0])

            config_path = args[args.index("--config") + 1] if "--config" in args else None
            found = resolve(config_path, "--config") if config_path else None
            if not found or found[0] != "configMap":
                problem(cwhere, "--config is not a file of a mounted ConfigMap")
                continue
            text = configmaps[found[1]]["data"][found[2]]
            config = check_tessera_config(f"{configmaps[found[1]]['_file']}: {found[2]}", text, role, args)
            for i, arg in enumerate(args):
                if arg in ("--curve-secret-key", "--router-public-key", "--authorized-keys", "--tls-cert", "--tls-key"):
                    resolve(args[i + 1], arg)
            for key in ("curve-secret-key", "router-public-key", "authorized-keys", "tls-cert", "tls-key"):
                if isinstance(config.get(key), str) and f"--{key}" not in args:
                    resolve(config[key], key)
            if role == "worker":
                advertise = args[args.index("--advertise") + 1] if "--advertise" in args else ""
                service = workload["spec"].get("serviceName")
                if not advertise.startswith(f"tcp://$(POD_NAME).{service}.$(POD_NAMESPACE).svc:"):
                    problem(cwhere, f"--advertise {advertise!r} is not the pod's stable DNS name")
                router_host = re.sub(r"^tcp://([^:]+):(\d+)$", r"\1 \2", config.get("router", ""))
                host, _, port = router_host.partition(" ")
                service = by_kind.get("Service", {}).get(host)
                if service is None or int(port or 0) not in {p["port"] for p in service["spec"]["ports"]}:
                    problem(cwhere, f"router {config.get('router')!r} is no Service port here")

    for obj in objects:
        selector = None
        if obj["kind"] == "Service":
            selector = obj["spec"].get("selector")
        elif obj["kind"] in ("PodDisruptionBudget", "NetworkPolicy"):
            selector = obj["spec"].get("selector", obj["spec"].get("podSelector", {})).get("matchLabels")
        if selector is None:
            continue
        where = f"{obj['_file']}: {obj['kind']} {obj['metadata']['name']}"
        selected = [t for _, t in templates if matches(selector, t["metadata"].get("labels", {}))]
        if not selected:
            problem(where, f"selector {selector} matches no pod template")
        if obj["kind"] == "Service":
            names = {p.get("name") for t in selected for c in t["spec"]["containers"] for p in c.get("ports", [])}
            for port in obj["spec"]["ports"]:
                target = port.get("targetPort")
                if isinstance(target, str) and target not in names:
                    problem(where, f"targetPort {target!r} is no port of the pods it selects")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("compose", "kubernetes", "systemd", "dockerfile"):
        print(__doc__, file=sys.stderr)
        return 64
    if sys.argv[1] == "compose":
        for path in sys.argv[2:]:
            check_compose(path)
    elif sys.argv[1] == "dockerfile":
        check_dockerfile(sys.argv[2])
    elif sys.argv[1] == "systemd":
        check_systemd(sys.argv[2], sys.argv[3])
    else:
        check_kubernetes(sys.argv[2:])
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
