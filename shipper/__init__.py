"""shipper: tails log files into Kafka with acknowledgement-gated checkpoints."""
