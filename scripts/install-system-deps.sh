#!/usr/bin/env bash
# The system packages Hindsight needs, in one place: README's set-up tells people to run this script and
# .ci/run runs it too, so a package missing here fails CI instead of a new user's first `npm ci`.
#
#   scripts/install-system-deps.sh           to build and run Hindsight (npm ci, the CLI, the app)
#   scripts/install-system-deps.sh --tests   also what `npm test` starts: a keychain, sshd, rclone, Chromium
#
# Building: the native modules (better-sqlite3, zstd-napi, keytar) compile from source with node-gyp,
# which needs a C++ toolchain and Python; keytar also needs libsecret's headers, found through pkg-config.
# Testing: the keychain tests run a real GNOME Keyring in a D-Bus session, the SFTP tests a real sshd
# (openssh-server brings ssh-keygen), the REST tests `rclone serve restic`, the repository server's tests restic as a client, the UI tests the system's Chromium and a font; the extended attribute,
# ACL, capability and file flag tests compare a restore with its source through getfattr, getfacl, getcap and lsattr;
# the stream tests dump a real SQLite database with sqlite3 and a real PostgreSQL server (started by the test) with pg_dump;
# the mount tests mount a snapshot as a folder with rclone mount, which needs fuse3's fusermount3.
set -euo pipefail

tests=false
for arg in "$@"; do
  case "$arg" in
    --tests) tests=true ;;
    *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
  esac
done

# The lists, per package manager. Keep README's "Set-up" section in step: a test compares them.
DEBIAN_BUILD=(build-essential python3 ca-certificates pkg-config libsecret-1-dev)
DEBIAN_TESTS=(gnome-keyring dbus openssh-server rclone restic chromium fonts-dejavu-core attr acl libcap2-bin e2fsprogs sqlite3 postgresql fuse3)
FEDORA_BUILD=(gcc-c++ make python3 pkgconf-pkg-config libsecret-devel)
FEDORA_TESTS=(gnome-keyring dbus-daemon openssh-server rclone restic chromium dejavu-sans-fonts attr acl libcap e2fsprogs sqlite postgresql-server fuse3)
BREW_TESTS=(chromium)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

case "$(uname -s)" in
  Linux)
    if command -v apt-get >/dev/null; then
      packages=("${DEBIAN_BUILD[@]}")
      if $tests; then packages+=("${DEBIAN_TESTS[@]}"); fi
      # Ubuntu names Chromium's deb "chromium-browser" (a snap wrapper); Debian "chromium".
      if $tests && grep -qi '^ID=ubuntu' /etc/os-release 2>/dev/null; then packages=("${packages[@]/#chromium/chromium-browser}"); fi
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
    elif command -v dnf >/dev/null; then
      packages=("${FEDORA_BUILD[@]}")
      if $tests; then packages+=("${FEDORA_TESTS[@]}"); fi
      as_root dnf install -y "${packages[@]}"
    else
      echo "install-system-deps: no apt-get or dnf here; install the equivalents of: ${DEBIAN_BUILD[*]}" >&2
      exit 1
    fi
    ;;
  Darwin)
    # Apple's command-line tools bring clang, make and Python 3; keytar uses the system Keychain.
    if ! xcode-select -p >/dev/null 2>&1; then
      xcode-select --install
      echo "install-system-deps: finish the Command Line Tools installer, then run this script again." >&2
      exit 1
    fi
    if $tests; then brew install --cask "${BREW_TESTS[@]}"; fi
    ;;
  MINGW* | MSYS* | CYGWIN*)
    # node-gyp needs Visual Studio's C++ build tools and Python; keytar uses the Credential Manager.
    winget install --exact --id Microsoft.VisualStudio.2022.BuildTools --override "--quiet --wait --add Microsoft.VisualStudio.Workload.VCTools --includeRecommended"
    winget install --exact --id Python.Python.3.12
    ;;
  *)
    echo "install-system-deps: $(uname -s) is not a platform Hindsight builds on" >&2
    exit 1
    ;;
esac
