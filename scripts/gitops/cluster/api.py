"""Reads from the Kubernetes API with the `kubernetes` client, as plain JSON dicts.

Objects come back exactly as the API server sends them (`_preload_content=False`), so the
logic that reads them is tested with recorded API responses, not client model classes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gitops.cluster.target import Target
from gitops.core.errors import GitOpsError

REQUEST_TIMEOUT_S = 10
ARGO_GROUP, ARGO_VERSION = "argoproj.io", "v1alpha1"


class Api:
    """A handle on one cluster's API: typed groups from the client, JSON dicts out."""

    def __init__(self, target: Target) -> None:
        from kubernetes import client
        from kubernetes import config as kube_config

        self.target = target
        try:
            api_client = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(target.kubeconfig) if target.kubeconfig else None,
                context=target.context,
            )
        except (kube_config.ConfigException, OSError) as exc:
            raise GitOpsError(f"kubeconfig context {target.context!r} is not usable ({exc}); "
                              "create the cluster or pass an existing --context.") from None
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.extensions = client.ApiextensionsV1Api(api_client)

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """The object as JSON, None on 404; an unreachable server is one sentence."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = method(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_S,
                              **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise GitOpsError(f"the API server of {self.target.context!r} answered {exc.status} "
                              f"{exc.reason}; check your access to the cluster.") from None
        except HTTPError:
            raise GitOpsError(f"the API server of context {self.target.context!r} does not answer; "
                              "start the cluster or fix the kubeconfig.") from None
        data: dict[str, Any] = json.loads(response.data)
        return data

    def items(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        data = self.call(method, *args, **kwargs)
        return list((data or {}).get("items", []))

    def applications(self, namespace: str = "argocd") -> list[dict[str, Any]]:
        return self.items(self.custom.list_namespaced_custom_object, ARGO_GROUP, ARGO_VERSION,
                          namespace, "applications")

    def application(self, name: str, namespace: str = "argocd") -> dict[str, Any] | None:
        return self.call(self.custom.get_namespaced_custom_object, ARGO_GROUP, ARGO_VERSION,
                         namespace, "applications", name)

    def deployments(self, namespace: str) -> list[dict[str, Any]]:
        return self.items(self.apps.list_namespaced_deployment, namespace)

    def deployment(self, name: str, namespace: str) -> dict[str, Any] | None:
        return self.call(self.apps.read_namespaced_deployment, name, namespace)

    def secrets(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        return self.items(self.core.list_namespaced_secret, namespace, label_selector=label_selector)

    def events(self, namespace: str) -> list[dict[str, Any]]:
        return self.items(self.core.list_namespaced_event, namespace)

    def pods(self, namespace: str) -> list[dict[str, Any]]:
        return self.items(self.core.list_namespaced_pod, namespace)

    def crd(self, name: str) -> dict[str, Any] | None:
        return self.call(self.extensions.read_custom_resource_definition, name)
