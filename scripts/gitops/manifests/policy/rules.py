"""The rule set as one table (RULES): id, name, severity, rationale, fix and check.

The checks live by theme in workloads, placement and argocd; fixtures are
tests/manifests/fixtures/policy/<id>/{fail,pass}.yaml.
"""

from __future__ import annotations

from gitops.manifests.policy.argocd import (
    argocd_automated,
    argocd_pinned_revision,
)
from gitops.manifests.policy.integrity import INTEGRITY_RULES
from gitops.manifests.policy.model import Rule
from gitops.manifests.policy.placement import (
    config_literals,
    credential_literals,
    database_statefulset,
    hpa_cpu_request,
    loadbalancer_only,
    namespace_psa,
    namespaced,
    pdb_for_replicas,
    plain_secret,
    service_account_token,
)
from gitops.manifests.policy.prod_safety import data_survives_prune, tls_in_prod
from gitops.manifests.policy.workloads import (
    host_access,
    image_digest,
    image_tag,
    liveness,
    liveness_lenient,
    readiness,
    resources,
    security_context,
)

RULES: tuple[Rule, ...] = (
    Rule("TN001", "image-tag", "error",
         "`:latest` or an untagged image changes under you: two nodes can run different code and a rollback "
         "has nothing to go back to.",
         "set an explicit version tag (and a digest) through the overlay's `images:` entry", image_tag),
    Rule("TN002", "image-digest", "error",
         "A tag can be re-pushed; only a digest makes the cluster run exactly the bytes that were tested.",
         "pin with `newTag: <version>@sha256:<digest>` in the overlay's `images:` (or image@sha256:...)",
         image_digest),
    Rule("TN003", "resources", "error",
         "Without requests the scheduler packs pods blindly and the HPA has no baseline; without a memory "
         "limit one leak takes the node down.",
         "set resources.requests.cpu, resources.requests.memory and resources.limits.memory", resources),
    Rule("TN004", "readiness-probe", "error",
         "Without a readiness probe a pod receives traffic before it can serve it, during every rollout.",
         "add a readinessProbe (HTTP /ready for the API)", readiness),
    Rule("TN005", "liveness-probe", "error",
         "Without a liveness probe a hung process keeps its slot forever and is never restarted.",
         "add a lenient livenessProbe (HTTP /healthz, or an exec heartbeat check for workers)", liveness),
    Rule("TN006", "liveness-lenient", "error",
         "An aggressive liveness probe restarts healthy-but-slow pods into a crash loop; liveness must "
         "be more patient than readiness, not check dependencies, and wait for a startup probe.",
         "add a startupProbe, give liveness failureThreshold x periodSeconds >= 30 s and >= readiness, and "
         "point it at /healthz, not /ready", liveness_lenient),
    Rule("TN007", "restricted-security-context", "error",
         "Containers running as root with a writable root filesystem and all capabilities turn any bug into "
         "a node compromise; Pod Security `restricted` rejects them anyway.",
         "set runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities.drop: [ALL], "
         "seccompProfile.type: RuntimeDefault and readOnlyRootFilesystem: true (emptyDir for /tmp)",
         security_context),
    Rule("TN008", "host-access", "error",
         "hostPath, hostNetwork, hostPID/IPC and hostPort tie a pod to a node and open the node to it.",
         "use a PersistentVolumeClaim or emptyDir, and a Service instead of host ports", host_access),
    Rule("TN009", "no-plain-secret", "error",
         "A Secret in Git is a leaked credential: base64 is an encoding, not encryption.",
         "seal it: `./inv secrets.seal` writes a SealedSecret into overlays/<env>/sealed-secrets.yaml",
         plain_secret),
    Rule("TN010", "namespace", "error",
         "Objects in `default`, or without a namespace, land wherever the current kubectl context points and "
         "escape the environment's policies.",
         "set the overlay's `namespace:` (tasknote-<env>) or metadata.namespace", namespaced),
    Rule("TN011", "no-loadbalancer-only", "error",
         "A LoadBalancer Service as the only exposure needs a cloud load balancer per service and skips TLS "
         "and routing; kind and a single VPS have none.",
         "expose through the Ingress or Gateway API HTTPRoute component and keep the Service ClusterIP",
         loadbalancer_only),
    Rule("TN012", "database-statefulset", "error",
         "A database in a Deployment gets a new identity and possibly two writers on one volume during a "
         "rollout; it needs a StatefulSet with its own volume claim.",
         "run it as a StatefulSet with a headless Service and volumeClaimTemplates", database_statefulset),
    Rule("TN013", "namespace-pod-security", "error",
         "Without the Pod Security `restricted` label the API server admits privileged pods into the "
         "environment.",
         "label the Namespace pod-security.kubernetes.io/enforce: restricted", namespace_psa),
    Rule("TN014", "credentials-from-secrets", "error",
         "Credentials written as env literals or ConfigMap values end up in Git, logs and "
         "`kubectl describe`.",
         "mount the sealed Secret (tasknote-db, tasknote-db-app) and name the file with NAME_FILE, or "
         "use valueFrom.secretKeyRef", credential_literals),
    Rule("TN015", "config-from-configmap", "error",
         "Configuration hard-coded as env literals differs silently between workloads and environments; "
         "one ConfigMap per environment is the place for it.",
         "move it into the overlay's configMapGenerator and use envFrom.configMapRef", config_literals),
    Rule("TN016", "argocd-automated-sync", "error",
         "Without automated sync with prune and selfHeal, Git is no longer the source of truth: drift and "
         "deleted objects stay in the cluster.",
         "set spec.syncPolicy.automated: {prune: true, selfHeal: true}", argocd_automated),
    Rule("TN017", "argocd-pinned-revision", "error",
         "A platform chart or manifest that follows HEAD upgrades the platform whenever upstream pushes.",
         "pin spec.source.targetRevision to the version in versions.yaml platform.*", argocd_pinned_revision),
    Rule("TN018", "pdb-for-replicas", "error",
         "Several replicas without a PodDisruptionBudget can all be evicted at once by a node drain.",
         "add a PodDisruptionBudget (maxUnavailable: 1) selecting the pods", pdb_for_replicas),
    Rule("TN019", "hpa-cpu-request", "error",
         "An HPA on CPU utilisation divides by the CPU request; without one it cannot scale.",
         "set resources.requests.cpu on every container of the HPA's target", hpa_cpu_request),
    Rule("TN020", "service-account-token", "error",
         "A mounted API token lets anyone who breaks into the container talk to the Kubernetes API as "
         "its service account; the app never calls the API.",
         "set automountServiceAccountToken: false on the ServiceAccount or the pod spec (annotate the "
         "object with the reason if it really needs the API)", service_account_token),
    *INTEGRITY_RULES,  # objects that refer to each other agree (policy.integrity)
    Rule("TN030", "data-survives-prune", "error",
         "Argo CD deletes an Application's objects when the Application is deleted or dropped from the "
         "root, and prunes those that leave Git; a staging or prod Namespace or volume-bearing object "
         "without Delete=false,Prune=false takes its PersistentVolumeClaims, and the database, with it.",
         "annotate it argocd.argoproj.io/sync-options: Delete=false,Prune=false (the overlay's "
         "base/components/retain-data does)", data_survives_prune),
    Rule("TN031", "tls-in-prod", "error",
         "Prod traffic in clear text exposes sessions and data to anyone on the path; every host must be "
         "served over TLS and plain HTTP may only redirect to HTTPS.",
         "add spec.tls with the cert-manager Certificate's Secret to the Ingress, an HTTPS listener with "
         "tls.certificateRefs to the Gateway, and only a RequestRedirect (scheme https) route on its HTTP "
         "listener (base/components/https and https-gateway)", tls_in_prod),
)
