#!/usr/bin/env bash
# Copy into $1 the Python 3.13 runtime and nothing else: the interpreter, the standard
# library minus what a server never imports, every shared library the interpreter and its
# extension modules link (found with ldd), CA certificates, time zones and the two users.
set -Eeuo pipefail
out="$1"
py=3.13
lib="usr/lib/python$py"
mkdir -p "$out"/{etc/ssl/certs,usr/bin,usr/lib,usr/share,tmp,home/nonroot,root}
# Merged /usr, as in Debian: the ELF interpreter path /lib64/ld-linux-x86-64.so.2 resolves.
ln -s usr/lib "$out/lib"
ln -s usr/lib64 "$out/lib64"
ln -s usr/bin "$out/bin"

cp -a "/usr/bin/python$py" "$out/usr/bin/"
ln -s "python$py" "$out/usr/bin/python3"
ln -s python3 "$out/usr/bin/python"
cp -a /usr/bin/tini-static "$out/usr/bin/tini"

# The standard library without test suites, IDLE, Tk, turtle demos, ensurepip (the app's
# venv already has its packages), pydoc's topic data and the build-time config helpers.
cp -a "/$lib" "$out/usr/lib/"
(
  cd "$out/$lib"
  rm -rf test idlelib tkinter turtledemo turtle.py ensurepip pydoc_data lib2to3 \
         config-"$py"-* __phello__ unittest/test sqlite3/test ctypes/test \
         site-packages dist-packages
  # Debian compiles .pyc at install time; without them the tree is about a third smaller
  # and a read-only root filesystem still works (Python then compiles in memory).
  find . -name __pycache__ -type d -prune -exec rm -rf {} +
  # Terminal and dbm modules pull in ncurses, readline and Berkeley DB; a server imports none.
  rm -f lib-dynload/_tkinter*.so lib-dynload/_test*.so lib-dynload/xx*.so \
        lib-dynload/_ctypes_test*.so lib-dynload/readline*.so lib-dynload/_curses*.so \
        lib-dynload/_dbm*.so lib-dynload/_gdbm*.so
)
# Debian's interpreter looks here for distribution packages; keep the directory it expects.
mkdir -p "$out/usr/lib/python3/dist-packages"

# Shared libraries: copy each to its real directory under the soname ldd reports.
libs_of() { ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(0x/ {print $1}'; }
{
  libs_of "/usr/bin/python$py"
  libs_of "$out/$lib"/lib-dynload/*.so
  # glibc loads libgcc_s at run time to unwind threads on pthread_exit/cancel.
  echo /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
} | sort -u | while read -r path; do
  real="$(readlink -f "$path")"
  dest="$out$(dirname "$real")/$(basename "$path")"
  mkdir -p "$(dirname "$dest")"
  cp -L "$path" "$dest"
done
mkdir -p "$out/usr/lib64"
ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$out/usr/lib64/ld-linux-x86-64.so.2"

cp -a /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"
cp -a /usr/share/zoneinfo "$out/usr/share/"
rm -rf "$out/usr/share/zoneinfo/right" "$out/usr/share/zoneinfo/posix"
cp -a /etc/nsswitch.conf "$out/etc/"
cp -L /etc/os-release "$out/etc/os-release"
cat > "$out/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat > "$out/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
nonroot:x:65532:
GROUP
chmod 1777 "$out/tmp"
chown 65532:65532 "$out/home/nonroot"
chmod 700 "$out/root"
