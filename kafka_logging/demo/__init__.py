"""`kafka-logging demo`: the whole pipeline on the local stack, with counts that must match."""
