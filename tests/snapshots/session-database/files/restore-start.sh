# Sourced by start-redis.sh when RESTORE_ID is set: the data pod's part of an init-time restore,
# once per id (the marker restore-<id>.done on the data volume). Pod 0 installs the backup the
# restore Job staged as its AOF base (Redis 7 loads an RDB base named by the manifest; a bare
# dump.rdb beside `appendonly yes` is ignored and the pod would start empty) and as dump.rdb
# (for `appendonly no`); every other pod drops its data and resyncs from pod 0. Sets
# restore_master to "yes" or "no": the role the pod takes without asking the Sentinels.
restore_master=""
if [ -n "${RESTORE_ID:-}" ] && [ ! -f "$DATA_DIR/restore-$RESTORE_ID.done" ]; then
  if [ "$REDIS_MODE" != "ha" ] || [ "$ANNOUNCE_HOST:$REDIS_PORT" = "$SEED_HOST:$SEED_PORT" ]; then
    staged="$DATA_DIR/restore-$RESTORE_ID.rdb"
    if [ ! -f "$staged" ]; then
      echo "start-redis: restore $RESTORE_ID: $staged is missing (did the restore Job run?)" >&2
      exit 1
    fi
    work="$DATA_DIR/.restore-$RESTORE_ID"
    rm -rf "$work"
    mkdir "$work"
    cp "$staged" "$work/appendonly.aof.1.base.rdb"
    printf 'file appendonly.aof.1.base.rdb seq 1 type b\n' > "$work/appendonly.aof.manifest"
    cp "$staged" "$DATA_DIR/.dump.rdb.restore"
    rm -rf "$DATA_DIR/appendonlydir"
    mv "$work" "$DATA_DIR/appendonlydir"
    mv "$DATA_DIR/.dump.rdb.restore" "$DATA_DIR/dump.rdb"
    restore_master=yes
  else
    rm -rf "$DATA_DIR/appendonlydir" "$DATA_DIR/dump.rdb"
    restore_master=no
  fi
  : > "$DATA_DIR/restore-$RESTORE_ID.done"
  rm -f "$DATA_DIR/restore-$RESTORE_ID.rdb"
  echo "start-redis: restore $RESTORE_ID installed (master: $restore_master)"
fi
