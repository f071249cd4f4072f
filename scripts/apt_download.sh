# Sourced by the fetch scripts: apt_download PACKAGE FOLDER downloads PACKAGE's .deb into FOLDER without root
# (`apt-get download`), running `apt-get update` once when the first try fails; returns non-zero when both fail.
apt_download() {
    (cd "$2" && apt-get download -q "$1" >/dev/null 2>&1) && return 0
    apt-get update -qq >/dev/null 2>&1 || true
    (cd "$2" && apt-get download -q "$1" >/dev/null 2>&1)
}
