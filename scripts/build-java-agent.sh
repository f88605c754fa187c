#!/usr/bin/env bash
# Builds fc-local's Java agent (runtimes/java/fc-local-java-agent.jar, with the com.aliyun.fc.runtime
# types functions compile against) and copies gson beside it. Needs a JDK and gson
# (Debian: apt-get install -y libgoogle-gson-java). Compiled for Java 8 so every java runtime runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

gson="${FC_LOCAL_GSON_JAR:-/usr/share/java/gson.jar}"
[ -f "$gson" ] || { echo "gson not found at $gson: apt-get install -y libgoogle-gson-java, or set FC_LOCAL_GSON_JAR" >&2; exit 1; }
command -v javac >/dev/null || { echo "javac not found: install a JDK (Debian: default-jdk-headless)" >&2; exit 1; }

out=runtimes/java/build
rm -rf "$out"
mkdir -p "$out/classes" runtimes/java/lib
javac -nowarn -Xlint:-options --release 8 -encoding UTF-8 -cp "$gson" -d "$out/classes" $(find runtimes/java/src -name '*.java')
jar cf runtimes/java/fc-local-java-agent.jar -C "$out/classes" .
cp "$gson" runtimes/java/lib/gson.jar
rm -rf "$out"
echo "built runtimes/java/fc-local-java-agent.jar"
