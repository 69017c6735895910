//! `compose.yaml`: the image run locally with the posture production gives it, so a
//! write to the image's filesystem or a missing capability shows up before deploying.

use std::fmt::Write as _;

use super::service::Service;

pub fn render(service: &Service) -> String {
    let mut probe = vec!["CMD".to_owned()];
    probe.extend(super::health_probe(service));
    let probe = super::json_list(&probe);
    let mut out = String::new();
    let _ = write!(
        out,
        "\
# Runs {name} hardened: read-only root filesystem, no capabilities, no privilege
# escalation, only /tmp writable, an init process to reap children and forward signals.
# Written by `pyship init`. Start it with `docker compose up --build`; PORT picks the
# host port.
services:
  {app}:
    build: .
    image: {image}:dev
    init: true
    read_only: true
    cap_drop:
      - ALL
    security_opt:
      - no-new-privileges:true
    tmpfs:
      - /tmp
    environment:
      # Libraries that write caches or config under $HOME get the writable /tmp.
      HOME: /tmp
    ports:
      - \"${{PORT:-{port}}}:{port}\"
    healthcheck:
      test: {probe}
      interval: 10s
      timeout: 5s
      retries: 3
      start_period: 10s
    # The server's own graceful timeout is shorter, so it exits before a SIGKILL.
    stop_grace_period: 15s
",
        name = service.name,
        app = service.app_name,
        image = service.image_name,
        port = service.port,
    );
    out
}
