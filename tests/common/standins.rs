//! The stand-ins for Apple's tools in a Mac-shaped root (`macroot.rs`): shell scripts
//! that behave as Apple's documentation and the cited reports say, each citing its
//! source. Data: the harness writes them into the root at Apple's paths.

/// What every stand-in shares: its call log, and the property lists it keeps the way the
/// Mac keeps them (rewritten whole from the state: XML, which clawguard reads as it reads
/// the binary form macOS writes).
pub const LIB: &str = r#"S=/private/var/standin
log_call() { echo "$*" >> $S/calls; }
plist_head() { printf '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n<dict>\n'; }
plist_tail() { printf '</dict>\n</plist>\n'; }
bools() { while read -r k v; do [ -n "$k" ] && printf '\t<key>%s</key>\n\t<%s/>\n' "$k" "$v"; done < "$1"; }
write_disabled() { { plist_head; bools $S/disabled; plist_tail; } > /var/db/com.apple.xpc.launchd/disabled.plist; }
write_softwareupdate() {
  [ -s $S/softwareupdate ] || [ -f /Library/Preferences/com.apple.SoftwareUpdate.plist ] || return 0
  { plist_head; bools $S/softwareupdate; plist_tail; } > /Library/Preferences/com.apple.SoftwareUpdate.plist
}
write_pmset() {
  f=$(cat $S/pmset.file)
  { plist_head; printf '\t<key>AC Power</key>\n\t<dict>\n\t\t<key>Automatic Restart On Power Loss</key>\n\t\t<integer>%s</integer>\n\t\t<key>System Sleep Timer</key>\n\t\t<integer>%s</integer>\n\t</dict>\n' "$(cat $S/pmset.autorestart)" "$(cat $S/pmset.sleep)"; plist_tail; } > "$f"
}
# A property list's string value for KEY (XML as plutil and the plist crate write it).
plist_string() { sed -n "/<key>$2<\/key>/{n;s:.*<string>\(.*\)</string>.*:\1:p;q}" "$1"; }
"#;

/// launchctl(1). Behaviour from Apple's manual page (`bootstrap`, `bootout`, `enable`,
/// `disable`, `print`, `print-disabled`, `kickstart`) and from what others hit on real
/// Macs: `bootout` returns before launchd has let the label go, and a `bootstrap` in that
/// window fails with "5: Input/output error" (tuist/tuist#10143,
/// DeterminateSystems/nix-installer#1157); `print` of an unknown label exits 113, "Could not
/// find service"; a disabled label cannot be bootstrapped ("119: Service is disabled").
/// launchd opens a job's StandardOutPath/StandardErrorPath before it starts it, and a job
/// whose log cannot be opened exits at once with EX_CONFIG (78), which `print` shows.
pub const LAUNCHCTL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call launchctl "$@"
L=$S/launchd
now() { date +%s; }
label_of() { plist_string "$1" Label; }
loaded() { [ -f $L/$1.loaded ] || { [ -f $L/$1.freed_at ] && [ $(now) -lt $(cat $L/$1.freed_at) ]; }; }
is_disabled() { grep -qx "$1 true" $S/disabled; }
set_disabled() { grep -v "^$1 " $S/disabled > $S/disabled.new; echo "$1 $2" >> $S/disabled.new; mv $S/disabled.new $S/disabled; write_disabled; }
service() { case "$1" in system/*) echo "${1#system/}" ;; *) echo "launchctl: a service target is system/LABEL, not $1" >&2; exit 64 ;; esac; }
case "$1" in
  bootstrap)
    [ "$2" = system ] || { echo "Bootstrap failed: 125: Domain does not support specified action" >&2; exit 125; }
    [ -f "$3" ] || { echo "Bootstrap failed: 2: No such file or directory" >&2; exit 2; }
    grep -q '<plist' "$3" || { echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; }
    label=$(label_of "$3")
    is_disabled "$label" && { echo "Bootstrap failed: 119: Service is disabled" >&2; exit 119; }
    loaded "$label" && { echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; }
    echo "$3" > $L/$label.loaded; rm -f $L/$label.freed_at $L/$label.exit
    port=$(plist_string "$3" SockServiceName); [ "$port" = ssh ] && port=22
    [ -n "$port" ] && echo "$port" > $L/$label.port
    for key in StandardOutPath StandardErrorPath; do
      log=$(plist_string "$3" $key)
      [ -n "$log" ] && [ ! -d "$(dirname "$log")" ] && echo 78 > $L/$label.exit
    done
    exit 0 ;;
  bootout)
    label=$(service "$2") || exit 64
    [ -f $L/$label.loaded ] || { echo "Boot-out failed: 3: No such process" >&2; exit 3; }
    rm -f $L/$label.loaded $L/$label.port; echo $(( $(now) + 2 )) > $L/$label.freed_at
    exit 0 ;;
  print)
    label=$(service "$2") || exit 64
    loaded "$label" || { echo "Could not find service \"$label\" in domain for system" >&2; exit 113; }
    echo "system/$label = {"
    if [ -f $L/$label.exit ]; then echo "	state = not running"; echo "	last exit code = $(cat $L/$label.exit): EX_CONFIG"; else echo "	state = running"; fi
    echo "}"; exit 0 ;;
  enable) label=$(service "$2") || exit 64; set_disabled "$label" false; exit 0 ;;
  disable) label=$(service "$2") || exit 64; set_disabled "$label" true; exit 0 ;;
  print-disabled)
    echo "disabled services = {"; while read -r k v; do [ "$v" = true ] && s=disabled || s=enabled; echo "	\"$k\" => $s"; done < $S/disabled; echo "}"; exit 0 ;;
  kickstart)
    for a in "$@"; do case "$a" in system/*) label=${a#system/} ;; esac; done
    loaded "$label" || { echo "Could not find service \"$label\" in domain for system" >&2; exit 113; }
    exit 0 ;;
  *) echo "launchctl stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// pfctl(8): `-vnf` parses without loading (the rules are printed), `-E` enables pf (and
/// says so, with the reference token), `-a ANCHOR -f FILE` loads an anchor's rules,
/// `-F all` flushes them, `-s rules`/`-sr` and `-s info` show them, `-T expire` expires a
/// table's entries. The grammar itself is checked by clawguard's own checker in the tests
/// that render pf's rules; this stand-in keeps what is loaded.
pub const PFCTL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call pfctl "$@"
P=$S/pf
anchor=main; file=; flush=; show=; parse=; table=; texp=
while [ $# -gt 0 ]; do
  case "$1" in
    -E) touch $P/enabled; echo "pf enabled" >&2; echo "Token : 9251" >&2 ;;
    -vnf) parse=1; file=$2; shift ;;
    -a) anchor=$2; shift ;;
    -f) file=$2; shift ;;
    -F) flush=$2; shift ;;
    -s) show=$2; shift ;;
    -sr) show=rules ;;
    -si) show=info ;;
    -t) table=$2; shift ;;
    -T) texp=$2; shift; [ $# -gt 1 ] && shift ;;
    *) echo "pfctl stand-in: '$1' is not in it" >&2; exit 99 ;;
  esac
  shift
done
key=$(echo "$anchor" | tr / _)
if [ -n "$file" ]; then
  [ -f "$file" ] || { echo "pfctl: $file: No such file or directory" >&2; exit 1; }
  if [ -n "$parse" ]; then grep -v '^#' "$file" | grep -v '^$'; exit 0; fi
  cp "$file" $P/$key.rules
fi
[ "$flush" = all ] && { rm -f $P/$key.rules; echo "rules cleared" >&2; echo "0 tables deleted." >&2; }
case "$show" in
  rules) [ -f $P/$key.rules ] && grep -v '^#' $P/$key.rules | grep -v '^$'; exit 0 ;;
  info) [ -f $P/enabled ] && echo "Status: Enabled for 0 days 00:00:12" || echo "Status: Disabled"; exit 0 ;;
esac
[ -n "$table" ] && [ "$texp" = expire ] && echo "0/0 addresses expired." >&2
exit 0
"#;

/// socketfilterfw, the application firewall's tool (`--help`). Its answers as real Macs
/// print them: "Firewall is enabled. (State = 1)" (ParetoSecurity/pareto-mac#139), State 2
/// "Firewall is blocking all non-essential incoming connections." (momenbasel/PureMac#176),
/// `--setstealthmode on` → "Stealth mode enabled" (pareto-mac#139). On macOS 14 it also
/// keeps the state in com.apple.alf.plist; from 15 only in itself (macOS 15 release notes,
/// fleetdm/fleet#21802).
pub const SOCKETFILTERFW: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call socketfilterfw "$@"
say_state() {
  case $(cat $S/alf.state) in
    0) echo "Firewall is disabled. (State = 0)" ;;
    1) echo "Firewall is enabled. (State = 1)" ;;
    2) echo "Firewall is blocking all non-essential incoming connections. (State = 2)" ;;
  esac
}
say_stealth() { [ "$(cat $S/alf.stealth)" = 1 ] && echo "Stealth mode enabled" || echo "Stealth mode disabled"; }
alf_plist() {
  [ @RELEASE@ = 14 ] || return 0
  sed -i "/<key>$1<\/key>/{n;s:<integer>[0-9]*</integer>:<integer>$2</integer>:}" /Library/Preferences/com.apple.alf.plist
}
case "$1" in
  --getglobalstate) say_state ;;
  --getstealthmode) say_stealth ;;
  --setglobalstate)
    case "$2" in on) echo 1 > $S/alf.state ;; off) echo 0 > $S/alf.state ;; *) echo "usage: --setglobalstate on | off" >&2; exit 1 ;; esac
    alf_plist globalstate $(cat $S/alf.state); say_state ;;
  --setstealthmode)
    case "$2" in on) echo 1 > $S/alf.stealth ;; off) echo 0 > $S/alf.stealth ;; *) echo "usage: --setstealthmode on | off" >&2; exit 1 ;; esac
    alf_plist stealthenabled $(cat $S/alf.stealth); say_stealth ;;
  *) echo "socketfilterfw stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// pmset(1): `-a SETTING VALUE` for every power source; `-g` lists them. The settings are
/// kept in PowerManagement's preferences (what clawguard reads back).
pub const PMSET: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call pmset "$@"
case "$1" in
  -a) case "$2" in
        sleep|autorestart) echo "$3" > $S/pmset.$2; write_pmset ;;
        *) echo "pmset stand-in: '$2' is not in it" >&2; exit 99 ;;
      esac ;;
  -g) echo "System-wide power settings:"; echo "Currently in use:"; echo " sleep                $(cat $S/pmset.sleep)"; echo " autorestart          $(cat $S/pmset.autorestart)" ;;
  *) echo "pmset stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// defaults(1): `write DOMAIN KEY -bool true|false`, `delete DOMAIN KEY` on
/// com.apple.SoftwareUpdate given as the path of its property list (defaults(1): "a domain
/// may also be specified as a path to an arbitrary plist file").
pub const DEFAULTS: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call defaults "$@"
case "$2" in
  /Library/Preferences/com.apple.SoftwareUpdate|/Library/Preferences/com.apple.SoftwareUpdate.plist) ;;
  *) echo "defaults stand-in: domain '$2' is not in it" >&2; exit 99 ;;
esac
case "$1" in
  write)
    [ "$4" = -bool ] || { echo "defaults stand-in: only -bool" >&2; exit 99; }
    case "$5" in true|YES|yes|1) v=true ;; false|NO|no|0) v=false ;; *) echo "defaults: bad boolean $5" >&2; exit 1 ;; esac
    grep -v "^$3 " $S/softwareupdate > $S/su.new; echo "$3 $v" >> $S/su.new; mv $S/su.new $S/softwareupdate; write_softwareupdate ;;
  delete)
    grep -q "^$3 " $S/softwareupdate || { echo "Domain (${2}) not found." >&2; echo "Defaults have not been changed." >&2; exit 1; }
    grep -v "^$3 " $S/softwareupdate > $S/su.new; mv $S/su.new $S/softwareupdate; write_softwareupdate ;;
  read) v=$(grep "^$3 " $S/softwareupdate | cut -d' ' -f2); [ -n "$v" ] || exit 1; [ "$v" = true ] && echo 1 || echo 0 ;;
  *) echo "defaults stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// fdesetup(8) `status`: "FileVault is On." or "FileVault is Off.".
pub const FDESETUP: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call fdesetup "$@"
[ "$1" = status ] || { echo "fdesetup stand-in: '$1' is not in it" >&2; exit 99; }
echo "FileVault is $(cat $S/filevault)."
"#;

/// lsof(8) for the listening TCP sockets: on a Mac launchd holds the socket of an
/// inetd-style job (Apple's Remote Login, clawguard's sshd) from its bootstrap on, so lsof
/// names launchd (PID 1) as the listener. Exits 1 with no output when nothing matches.
pub const LSOF: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call lsof "$@"
want=
for a in "$@"; do case "$a" in -iTCP:*) want=${a#-iTCP:} ;; esac; done
found=
for f in $S/launchd/*.port; do
  [ -f "$f" ] || continue
  label=$(basename "$f" .port); [ -f $S/launchd/$label.loaded ] || continue
  p=$(cat "$f")
  if [ -z "$want" ] || [ "$want" = "$p" ]; then
    [ -z "$found" ] && echo "COMMAND PID USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME"
    found=1
    echo "launchd   1 root   12u  IPv6 0x5b7e0d2a1c3f9e01      0t0  TCP *:$p (LISTEN)"
    echo "launchd   1 root   13u  IPv4 0x5b7e0d2a1c3f9e02      0t0  TCP *:$p (LISTEN)"
  fi
done
[ -n "$found" ] || exit 1
"#;

/// plutil(1) `-lint FILE…`: "FILE: OK" for each property list that parses.
pub const PLUTIL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call plutil "$@"
[ "$1" = -lint ] || { echo "plutil stand-in: '$1' is not in it" >&2; exit 99; }
shift; rc=0
for f in "$@"; do
  if head -c 200 "$f" | grep -q '<plist' && grep -q '</plist>' "$f"; then echo "$f: OK"; else echo "$f: Unexpected character at line 1"; rc=1; fi
done
exit $rc
"#;

/// ps(1) as root sees processes on a Mac (no /proc there): `-o FIELD= -p PID` with `ppid`,
/// `ruid`, `ucomm`, and `-E -o command=` (the command, then the environment it started
/// with). A login over SSH (`MacRoot::sudo_over_ssh`) is shown as a Mac shows it: the
/// command's parent is sudo, then alice's zsh that sshd started (its environment has
/// SSH_CONNECTION), then root's `sshd`. Without one, the command's parent is launchd.
pub const PS: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call ps "$@"
field=; pid=; env=
while [ $# -gt 0 ]; do
  case "$1" in -ww) ;; -E) env=1 ;; -o) field=${2%=}; shift ;; -p) pid=$2; shift ;; *) echo "ps stand-in: '$1' is not in it" >&2; exit 99 ;; esac
  shift
done
[ -n "$pid" ] || exit 1
login=$(cat $S/login 2>/dev/null)
case "$pid" in
  9001) ppid=9002; ruid=0; comm=sudo; cmd="sudo /usr/local/bin/clawguard" ;;
  9002) ppid=9003; ruid=501; comm=zsh; cmd="-zsh"; envs="SSH_CONNECTION=$login USER=alice" ;;
  9003) ppid=1; ruid=0; comm=sshd; cmd="sshd: alice [priv]" ;;
  1) ppid=0; ruid=0; comm=launchd; cmd=/sbin/launchd ;;
  *) [ -n "$login" ] && ppid=9001 || ppid=1; ruid=0; comm=clawguard; cmd="/usr/local/bin/clawguard" ;;
esac
[ -n "$login" ] || case "$pid" in 900[123]) exit 1 ;; esac
case "$field" in
  ppid) echo "$ppid" ;;
  ruid) echo "$ruid" ;;
  ucomm) echo "$comm" ;;
  command) [ -n "$env" ] && echo "$cmd $envs" || echo "$cmd" ;;
  *) echo "ps stand-in: field '$field' is not in it" >&2; exit 99 ;;
esac
"#;

/// install(1) as BSD's (busybox's static build has none): `-d` makes directories, `-m`
/// sets the mode, `-o`/`-g` the owner and group; otherwise copies a file.
pub const INSTALL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call install "$@"
dir=; mode=; owner=; group=
while [ $# -gt 0 ]; do
  case "$1" in -d) dir=1 ;; -m) mode=$2; shift ;; -o) owner=$2; shift ;; -g) group=$2; shift ;; -c|-p) ;; -*) echo "install stand-in: '$1' is not in it" >&2; exit 99 ;; *) break ;; esac
  shift
done
set_attrs() {
  [ -n "$mode" ] && { chmod "$mode" "$1" || exit 1; }
  [ -n "$owner" ] && { chown "$owner" "$1" || exit 1; }
  [ -n "$group" ] && { chown ":$group" "$1" || exit 1; }
  return 0
}
if [ -n "$dir" ]; then
  for d in "$@"; do mkdir -p "$d" || exit 1; set_attrs "$d"; done
else
  [ $# -eq 2 ] || { echo "usage: install [-m mode] [-o owner] [-g group] file target" >&2; exit 64; }
  cp "$1" "$2" || exit 1; set_attrs "$2"
fi
"#;

/// The Docker CLI and Compose against a runtime's engine: the engine is reached only
/// through DOCKER_HOST's socket, which must be there (docker(1), "DOCKER_HOST: daemon
/// socket to connect to"); without it the CLI's own error. What it keeps: the images
/// pulled, tagged and built (with their labels), whether the compose project is up. Each call is logged with the
/// DOCKER_HOST it saw.
pub const ENGINE: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
tool=$1; shift
log_call "$tool" "$@" "[DOCKER_HOST=$DOCKER_HOST]"
E=$S/engine
sock=${DOCKER_HOST#unix://}
if [ -z "$DOCKER_HOST" ] || [ ! -S "$sock" ]; then
  echo "Cannot connect to the Docker daemon at ${DOCKER_HOST:-unix:///var/run/docker.sock}. Is the docker daemon running?" >&2
  exit 1
fi
if [ "$tool" = docker ] && [ "$1" = compose ]; then shift; tool=docker-compose; fi
if [ "$tool" = docker-compose ]; then
  file=; verb=
  while [ $# -gt 0 ]; do
    case "$1" in -p|--project-name) shift ;; -f|--file) file=$2; shift ;; -*) ;; *) verb=$1; shift; break ;; esac
    shift
  done
  case "$verb" in
    version) echo "Docker Compose version v2.31.0" ;;
    config) [ -f "$file" ] || { echo "open $file: no such file or directory" >&2; exit 1; } ;;
    up) touch $E/up; echo "Container clawguard-agent-1  Started" >&2 ;;
    down) rm -f $E/up ;;
    restart|kill|stop|start|pull) ;;
    exec) [ -f $E/up ] || { echo "service \"agent\" is not running" >&2; exit 1; } ;;
    ps) [ -f $E/up ] && echo "3f2a9c1d8b7e" ;;
    *) echo "compose stand-in: '$verb' is not in it" >&2; exit 99 ;;
  esac
  exit 0
fi
case "$1" in
  info)
    case "$3" in
      *ServerVersion*) echo "27.4.0" ;;
      *CPUCfsQuota*) echo "true true true" ;;
      *) echo "Server Version: 27.4.0" ;;
    esac ;;
  version) echo "Docker version 27.4.0, build bde2b89" ;;
  pull) shift; [ "$1" = -q ] && shift; echo "$1" >> $E/images; echo "$1" ;;
  tag) echo "$3" >> $E/images ;;
  image)
    [ "$2" = inspect ] || { echo "docker stand-in: image $2 is not in it" >&2; exit 99; }
    img=$(eval echo \${$#})
    grep -qxF "$img" $E/images 2>/dev/null || { echo "Error response from daemon: No such image: $img" >&2; exit 1; }
    case "$*" in
      # Go templates: `index` of a missing map key prints "<no value>".
      *".Config.Labels"*) cat "$E/label.$(echo "$img" | tr '/:' '__')" 2>/dev/null || echo "<no value>" ;;
      *) echo "sha256:5d0da3dc976460b72c77d94c8a1ad043720b0416bfc16c52c45d4847e53fadb6" ;;
    esac ;;
  build)
    # docker build [--quiet] [--label K=V] [--tag T] DIR: DIR/Dockerfile is read by the CLI
    # (the context is sent to the engine, so nothing needs sharing with a VM); --quiet
    # prints the new image's ID (docker-build(1)).
    shift; label=; tag=; dir=
    while [ $# -gt 0 ]; do
      case "$1" in --quiet|-q) ;; --label) label=$2; shift ;; --tag|-t) tag=$2; shift ;; *) dir=$1 ;; esac
      shift
    done
    [ -f "$dir/Dockerfile" ] || { echo "unable to prepare context: path \"$dir\" not found" >&2; exit 1; }
    echo "$tag" >> $E/images
    echo "${label#*=}" > "$E/label.$(echo "$tag" | tr '/:' '__')"
    echo "sha256:9b1c2f1d6e0a4c7b8a3e5d2f1c0b9a8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a" ;;
  ps) [ -f $E/up ] && echo "3f2a9c1d8b7e" ;;
  inspect) echo "[]" ;;
  run)
    # colima's VM sees only what it mounts: its user's home and /tmp/colima by default
    # (colima's FAQ); a bind mount of anything else is an empty directory inside.
    prev=
    for a in "$@"; do
      if [ "$prev" = -v ]; then
        src=${a%%:*}
        case "$src" in /Users/alice/*|/tmp/colima/*) ;; *) echo "FATAL: $src is not shared with colima's VM: the container sees an empty directory" >&2; exit 1 ;; esac
      fi
      prev=$a
    done
    case "$*" in
      *"--entrypoint squid"*"-f /dev/stdin"*) while read -r line; do echo "Processing: $line"; done ;;
      *) echo "docker stand-in: run $* is not in it" >&2; exit 99 ;;
    esac ;;
  *) echo "docker stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// sysctl(8) `-n kern.boottime`: `{ sec = N, usec = 0 } DATE` — when this Mac booted.
pub const SYSCTL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call sysctl "$@"
[ "$1 $2" = "-n kern.boottime" ] || { echo "sysctl stand-in: '$*' is not in it" >&2; exit 99; }
echo "{ sec = $(cat $S/boottime), usec = 0 } Mon Dec  7 10:30:00 2026"
"#;

/// colima after a hard power-off, as abiosoft/colima#381 shows it: while the Lima
/// instance's `ha.sock` from before is there, `colima start` fails ("errors inspecting
/// instance … ha.sock: connect: connection refused"); without it, it starts.
pub const COLIMA: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call colima "$@" "[HOME=$HOME uid=$(id -u)]"
if [ -e "$HOME/.colima/_lima/colima/ha.sock" ]; then
  echo "FATA[0000] errors inspecting instance: [failed to get Info from \"$HOME/.colima/_lima/colima/ha.sock\": dial unix: connect: connection refused]" >&2
  exit 1
fi
echo "INFO[0000] starting colima"
"#;
