//! `k8s/deployment.yaml`: a Deployment of the tested digest with the restricted pod
//! security profile, probes on the health path, and a Service in front of it.

use std::fmt::Write as _;

use super::service::Service;
use crate::contract::APP_UID;

/// `image` is the deployed image by digest, `name@sha256:…`.
pub fn render(service: &Service, image: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "\
# {name} on Kubernetes. Written by `pyship init --kubernetes`.
# The image is pinned by digest: a tag could point elsewhere tomorrow. The kubelet owns
# health checking through the probes, so the image has no HEALTHCHECK of its own.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  labels:
    app.kubernetes.io/name: {app}
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: {app}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {app}
    spec:
      automountServiceAccountToken: false
      # Longer than the server's graceful shutdown, so in-flight requests finish.
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: {APP_UID}
        runAsGroup: {APP_UID}
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {app}
          image: {image}
          ports:
            - name: http
              containerPort: {port}
          env:
            - name: PORT
              value: \"{port}\"
            # The root filesystem is read-only; /tmp is the one writable place.
            - name: HOME
              value: /tmp
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop:
                - ALL
          readinessProbe:
            httpGet:
              path: {health}
              port: http
            periodSeconds: 5
            failureThreshold: 3
          livenessProbe:
            httpGet:
              path: {health}
              port: http
            initialDelaySeconds: 10
            periodSeconds: 10
            failureThreshold: 3
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 512Mi
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
---
apiVersion: v1
kind: Service
metadata:
  name: {app}
  labels:
    app.kubernetes.io/name: {app}
spec:
  selector:
    app.kubernetes.io/name: {app}
  ports:
    - name: http
      port: 80
      targetPort: http
",
        name = service.name,
        app = service.app_name,
        port = service.port,
        health = serde_json::to_string(&service.health_path).expect("strings serialize"),
    );
    out
}
