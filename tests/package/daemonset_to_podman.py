#!/usr/bin/python3
"""Turns the rendered Kubernetes manifests (`kubectl kustomize deploy/kubernetes` on stdin) into
what the container test runs: the `podman run` arguments that give the agent's container the
DaemonSet's exact settings, its ConfigMap's files and its probes.

Every field of the pod template, the container, its security context and its volumes is
either translated or refused: a manifest that gains a setting this does not know fails the
test until the container test runs with it too, so the test and the manifest cannot drift.

  kubectl kustomize deploy/kubernetes | daemonset_to_podman.py CONFIG_DIR > run.json

writes the ConfigMap's files into CONFIG_DIR and prints JSON: {"image", "args",
"podman_args", "readiness": {"path", "port"}, "liveness": {...}, "mounts": [...], "create": [...]}:
"create" lists the host directories a DirectoryOrCreate hostPath needs, which the kubelet would
make and the caller makes before `podman run`.
"""
import json
import os
import sys

import yaml


def refuse(what):
    sys.exit(f"daemonset_to_podman: the DaemonSet has {what}, which the container test does "
             "not run with: teach tests/package/daemonset_to_podman.py to apply it")


def only(mapping, allowed, where):
    for key in mapping:
        if key not in allowed:
            refuse(f"{where}.{key}")


def main():
    config_dir = sys.argv[1]
    documents = [d for d in yaml.safe_load_all(sys.stdin) if d]
    daemonsets = [d for d in documents if d["kind"] == "DaemonSet"]
    if len(daemonsets) != 1:
        sys.exit(f"daemonset_to_podman: {len(daemonsets)} DaemonSets, expected 1")
    config_maps = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ConfigMap"}

    pod = daemonsets[0]["spec"]["template"]
    spec = pod["spec"]
    # Scheduling and cluster-only settings: they do not change what runs in the container.
    only(spec, {"hostPID", "hostNetwork", "dnsPolicy", "priorityClassName", "tolerations",
                "containers", "volumes"}, "spec")
    podman = []
    if spec.get("hostPID"):
        podman.append("--pid=host")
    if spec.get("hostNetwork"):
        podman.append("--network=host")
    annotations = pod.get("metadata", {}).get("annotations", {})
    for key, value in annotations.items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/"):
            if value != "unconfined":
                refuse(f"AppArmor profile {value}")
            podman.append("--security-opt=apparmor=unconfined")
        else:
            refuse(f"annotation {key}")

    if len(spec["containers"]) != 1:
        refuse(f"{len(spec['containers'])} containers")
    container = spec["containers"][0]
    only(container, {"name", "image", "imagePullPolicy", "args", "ports", "readinessProbe",
                     "livenessProbe", "resources", "securityContext", "volumeMounts"},
         "container")
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}

    context = container["securityContext"]
    only(context, {"runAsUser", "readOnlyRootFilesystem", "seccompProfile", "capabilities"},
         "securityContext")
    podman.append(f"--user={context['runAsUser']}")
    if context.get("readOnlyRootFilesystem"):
        # Without podman's own tmpfs on /tmp, /run and /var/tmp: the kubelet adds none.
        podman += ["--read-only", "--read-only-tmpfs=false"]
    if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        refuse(f"seccompProfile {context.get('seccompProfile')}")
    # podman's default seccomp profile is the runtime default the kubelet asks for.
    capabilities = context["capabilities"]
    only(capabilities, {"drop", "add"}, "securityContext.capabilities")
    if capabilities.get("drop") != ["ALL"]:
        refuse(f"capabilities.drop {capabilities.get('drop')}")
    podman.append("--cap-drop=all")
    podman += [f"--cap-add=CAP_{c}" for c in capabilities.get("add", [])]

    limits = container.get("resources", {}).get("limits", {})
    only(limits, {"memory", "cpu"}, "resources.limits")
    if "memory" in limits:
        memory = limits["memory"]
        if not memory.endswith("Mi"):
            refuse(f"memory limit {memory}")
        podman.append(f"--memory={memory[:-2]}m")
    if "cpu" in limits:
        refuse("a CPU limit")

    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = []
    create = []
    for mount in container["volumeMounts"]:
        only(mount, {"name", "mountPath", "readOnly", "mountPropagation"}, "volumeMounts[]")
        volume = volumes[mount["name"]]
        options = ["ro"] if mount.get("readOnly") else ["rw"]
        propagation = mount.get("mountPropagation")
        if propagation == "HostToContainer":
            options.append("rslave")
        elif propagation not in (None, "None"):
            refuse(f"mountPropagation {propagation}")
        if "hostPath" in volume:
            only(volume["hostPath"], {"path", "type"}, f"volumes.{mount['name']}.hostPath")
            kind = volume["hostPath"].get("type")
            if kind not in ("Directory", "DirectoryOrCreate", None):
                refuse(f"hostPath type {kind}")
            source = volume["hostPath"]["path"]
            if kind == "DirectoryOrCreate":
                create.append(source)
        elif "configMap" in volume:
            config_map = config_maps[volume["configMap"]["name"]]
            os.makedirs(config_dir, exist_ok=True)
            for name, text in config_map["data"].items():
                with open(os.path.join(config_dir, name), "w", encoding="utf-8") as f:
                    f.write(text)
            source = config_dir
        else:
            refuse(f"volume {mount['name']} of a kind other than hostPath and configMap")
        # The kubelet mounts hostPath volumes recursively (rbind).
        podman.append(f"--volume={source}:{mount['mountPath']}:{','.join(options + ['rbind'])}")
        mounts.append({"source": source, "target": mount["mountPath"], "options": options})

    def probe(name):
        p = container[name]
        only(p, {"httpGet", "periodSeconds", "failureThreshold"}, name)
        port = p["httpGet"]["port"]
        return {"path": p["httpGet"]["path"], "port": ports.get(port, port)}

    json.dump({"image": container["image"], "args": container.get("args", []),
               "podman_args": podman, "readiness": probe("readinessProbe"),
               "liveness": probe("livenessProbe"), "mounts": mounts, "create": create,
               "host_port": ports.get("metrics")}, sys.stdout, indent=1)
    print()


main()
