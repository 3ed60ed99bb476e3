# OpenBao for deploy/compose/compose.yaml: integrated (raft) storage in the openbao-data
# volume (OpenBao 2.x has no file storage). Plain HTTP on the compose network only: the
# port is not published, and aiopsd is the only client.
storage "raft" {
  path    = "/openbao/data"
  node_id = "aiops-1"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

api_addr      = "http://openbao:8200"
cluster_addr  = "http://openbao:8201"
# Raft's files are memory-mapped; mlock would need IPC_LOCK and is not recommended with it.
disable_mlock = true
ui            = false
