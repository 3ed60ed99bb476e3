ui = false
# Memory locking needs IPC_LOCK, which the container does not get (capabilities drop ALL);
# swap is off on Kubernetes nodes.
disable_mlock = true

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

storage "raft" {
  path = "/openbao/data"
}
