#!/usr/bin/env bash
# The Kubernetes manifests of deploy/k8s/.
# 1. deploy/k8s/play/cluster.yaml (a one-pod cluster as a Deployment) runs under
#    `podman kube play` on the image deploy/image.sh builds: its gateway's readiness request
#    /pks/health answers 200, oksctl imports a key and gpg --recv-keys fetches it through the
#    port the manifest publishes on 127.0.0.1 (a free one here).
# 2. deploy/k8s/ (StatefulSets, Deployments, Services, ConfigMap, PodDisruptionBudgets, the etcd members and the map Job) renders
#    with `kubectl kustomize` (when kubectl is installed) and every object passes the
#    Kubernetes schema of its kind (npm kubernetes-models, installed into build/k8s-check when
#    the npm registry answers; a wrong object must fail the same check). Its oks.conf passes
#    `oksctl config check`.
# No Kubernetes cluster runs here: scheduling, volume claims, probes and disruption budgets
# of deploy/k8s/ are not exercised. Everything a run creates is removed on exit.
set -u
source "$(dirname "$0")/lib.sh"
export CONTAINERS_CONF=$OKS_ROOT/deploy/containers.conf
D=$(scratch_dir)
G=$(gpg_home)
G2=$(gpg_home)
P=oks72-$$
IMG=localhost/$P:test
K8S=$OKS_ROOT/deploy/k8s
NPMDIR=$OKS_ROOT/build/k8s-check
KUBENET=
cleanup() {
  [ -f "$D/play.yaml" ] && podman kube down "$D/play.yaml" >/dev/null 2>&1
  podman pod rm -f "$P-pod-0" >/dev/null 2>&1
  podman volume rm -f "$P-data" "$P-config" >/dev/null 2>&1
  podman rmi -f "$IMG" >/dev/null 2>&1
  [ "$KUBENET" = created ] && podman network rm -f podman-default-kube-network >/dev/null 2>&1
  gpg_home_cleanup "$G"; gpg_home_cleanup "$G2"
  rm -rf "$D"
}
at_exit cleanup
t0=$SECONDS

# ---- 2. offline checks of deploy/k8s ---------------------------------------------------------------
sed -n '/^  oks.conf: |$/,$p' "$K8S/configmap.yaml" | tail -n +2 | sed 's/^    //' >"$D/k8s.conf"
out=$("$OKS_BIN/oksctl" config check -c "$D/k8s.conf" 2>&1)
check "the oks.conf of deploy/k8s/configmap.yaml passes oksctl config check" test $? -eq 0
[ -n "$out" ] && echo "$out" | sed 's/^/# /' | tail -3
RENDERED=
if command -v kubectl >/dev/null; then
  kubectl kustomize "$K8S" >"$D/rendered.yaml" 2>"$D/kustomize.err"
  rc=$?
  sed 's/^/# /' "$D/kustomize.err"
  check "kubectl kustomize deploy/k8s renders ($(grep -c '^kind:' "$D/rendered.yaml") objects)" test $rc -eq 0
  RENDERED=$D/rendered.yaml
else
  ok "kubectl kustomize # SKIP kubectl not installed"
fi
NODEOK=0
if command -v npm >/dev/null && command -v node >/dev/null; then
  if [ -f "$NPMDIR/node_modules/kubernetes-models/package.json" ] && [ -f "$NPMDIR/node_modules/yaml/package.json" ]; then
    NODEOK=1
  else
    mkdir -p "$NPMDIR"
    if (cd "$NPMDIR" && timeout 300 npm install --no-audit --no-fund --silent kubernetes-models@5 yaml@2) \
        >"$D/npm.log" 2>&1; then NODEOK=1; else tail -3 "$D/npm.log" | sed 's/^/# npm: /'; fi
  fi
fi
if [ $NODEOK -eq 1 ]; then
  cat >"$NPMDIR/validate.mjs" <<'JS'
// validate.mjs FILE...: every object of the YAML files against the schema of its kind
import fs from 'fs';
import YAML from 'yaml';
let bad = 0, n = 0;
for (const f of process.argv.slice(2)) {
  for (const doc of YAML.parseAllDocuments(fs.readFileSync(f, 'utf8'))) {
    const o = doc.toJS();
    if (!o || o.kind === 'Kustomization') continue;
    n++;
    try {
      const m = await import(`kubernetes-models/${o.apiVersion}/${o.kind}`);
      new m[o.kind](o).validate();
    } catch (e) {
      bad++;
      console.log(`${f}: ${o.kind} ${o.metadata && o.metadata.name}: ${e.message.split('\n')[0]}`);
    }
  }
}
console.log(`${n} objects, ${bad} invalid`);
process.exit(bad ? 1 : 0);
JS
  v() { (cd "$NPMDIR" && timeout 120 node validate.mjs "$@"); }
  files=(${RENDERED:-"$K8S"/*.yaml} "$K8S"/play/cluster.yaml)
  out=$(v "${files[@]}" 2>&1); rc=$?
  echo "$out" | sed 's/^/# /'
  check "every object of deploy/k8s passes its Kubernetes schema" test $rc -eq 0
  sed 's/replicas: 1/replicas: "one"/' "$K8S/shard-s0.yaml" >"$D/wrong.yaml"
  out=$(v "$D/wrong.yaml" 2>&1); rc=$?
  echo "$out" | sed 's/^/# (wrong) /'
  check "a StatefulSet with a wrong field type fails the same check" \
    bash -c "[ $rc -ne 0 ] && grep -q 'replicas' <<<'$out'"
else
  ok "Kubernetes schema check # SKIP npm registry not reachable or node/npm missing: kubernetes-models not installed"
fi

# ---- 1. the one-pod cluster under podman kube play ------------------------------------------------
if ! command -v podman >/dev/null || ! command -v mmdebstrap >/dev/null; then
  ok "podman kube play # SKIP podman or mmdebstrap not installed (deploy/deps.sh)"; finish
fi
if ! timeout 900 bash "$OKS_ROOT/deploy/image.sh" --tag "$IMG" >"$D/image.log" 2>&1; then
  tail -5 "$D/image.log" | sed 's/^/# /'
  ok "podman kube play # SKIP the image could not be built"; finish
fi
if ! timeout 120 podman run --rm "$IMG" true >"$D/run.log" 2>&1; then
  sed 's/^/# /' "$D/run.log"
  ok "podman kube play # SKIP podman cannot run a container here"; finish
fi
HP=$(free_port)
# kube play puts pods on this network, creating it when missing: removed at exit if created here
podman network exists podman-default-kube-network || KUBENET=created
# the manifest as it is, with this run's names, image and host port
# CURVE keys for the pod's programs, owned by the image's user (uid 11371)
mkdir -p "$D/keys"
for k in router shard http admin; do "$OKS_BIN/oksctl" keygen "$D/keys/$k" >/dev/null; done
# as the kubelet leaves a Secret volume under the pod's fsGroup: root:11371, mode 0440 (the
# daemons accept group read of a secret key file only when root owns it)
chown -R 0:11371 "$D/keys"
chmod 750 "$D/keys"
chmod 440 "$D"/keys/*
sed -e "s|localhost/oks:latest|$IMG|" -e "s|oks-play|$P|g" -e "s|hostPort: 11371|hostPort: $HP|" \
  -e "s|path: /var/lib/$P/keys|path: $D/keys|" "$K8S/play/cluster.yaml" >"$D/play.yaml"
timeout 120 podman kube play "$D/play.yaml" >"$D/play.log" 2>&1
rc=$?
[ $rc -eq 0 ] || sed 's/^/# /' "$D/play.log"
check "podman kube play deploy/k8s/play/cluster.yaml starts the pod" test $rc -eq 0
check "its containers run: $(podman ps --filter pod=$P-pod-0 --format '{{.Names}}' | grep -v infra | tr '\n' ' ')" \
  test "$(podman ps -q --filter pod=$P-pod-0 | wc -l)" -eq 5
check "the gateway's readiness request /pks/health answers 200 on the published port" \
  wait_for 60 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HP/pks/health)\" = 200 ]"
gpg --homedir "$G" --batch --passphrase '' --quick-gen-key 'OKS K8s Test <k8s@example.org>' \
  ed25519 cert >/dev/null 2>&1
FPR=$(gpg --homedir "$G" --with-colons --list-keys | awk -F: '$1=="fpr"{print $10; exit}')
gpg --homedir "$G" --export "$FPR" | podman exec -i "$P-pod-0-router" sh -c 'cat >/tmp/key.pgp'
out=$(podman exec "$P-pod-0-router" oksctl import /tmp/key.pgp 2>&1)
echo "# $out"
check "oksctl in the pod imports a key" grep -q '1 new' <<<"$out"
timeout 60 gpg --homedir "$G2" --batch --keyserver "hkp://127.0.0.1:$HP" --recv-keys "$FPR" \
  >"$D/recv.log" 2>&1
rc=$?
GNUPGHOME=$G2 gpgconf --kill all >/dev/null 2>&1
[ $rc -eq 0 ] || sed 's/^/# gpg: /' "$D/recv.log"
check "gpg --recv-keys fetches it through the pod's published port" \
  bash -c "gpg --homedir '$G2' --with-colons --list-keys '$FPR' | grep -q '^fpr:::::::::$FPR:'"
podman kube down "$D/play.yaml" >/dev/null 2>&1
check "podman kube down removes the pod" bash -c "! podman pod exists $P-pod-0"
echo "# $((SECONDS - t0)) s"
finish
