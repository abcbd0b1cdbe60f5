# Sourced by the launchers in bin/: finds the built jars and rebuilds them (mvn package, tests skipped) when they are
# missing or older than the sources. Sets CLI_JAR (the CLI with every role it starts) and BENCH_JAR (the benchmark
# harnesses). Needs ROOT; $1 names the caller in messages.
jar() { ls "$ROOT"/$1 2>/dev/null | head -n1 || true; }  # no jar yet is not an error: it gets built
stale() {
  local j=$1; shift
  [ -n "$j" ] || return 0
  [ -n "$(find "$@" \( -name '*.java' -o -name '*.proto' -o -name 'pom.xml' -o -name '*.properties' \) -newer "$j" -print -quit 2>/dev/null)" ]
}
find_jars() {
  CLI_JAR=$(jar 'checkpointd/target/checkpointd-*-all.jar')
  BENCH_JAR=$(jar 'bench/target/checkpointd-bench-*[0-9T].jar')
}
build_jars() {
  local who=$1
  "$ROOT/scripts/install-build-tools" >&2
  find_jars
  if stale "$CLI_JAR" "$ROOT"/pom.xml "$ROOT"/linux "$ROOT"/protocol "$ROOT"/restore "$ROOT"/buffer-proxy "$ROOT"/arbiter \
       "$ROOT"/demo/src/main "$ROOT"/demo/pom.xml "$ROOT"/checkpointd \
     || stale "$BENCH_JAR" "$ROOT"/bench; then
    echo "$who: building the jars (mvn package, tests skipped)..." >&2
    (cd "$ROOT" && mvn -q -B -Dstyle.color=never -DskipTests package) >&2 \
      || { echo "$who: build failed (run 'mvn -B -DskipTests package' to see why)" >&2; exit 1; }
    find_jars
  fi
}
