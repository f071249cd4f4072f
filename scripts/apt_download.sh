# Sourced by the fetch scripts.

# apt_download PACKAGE FOLDER downloads PACKAGE's .deb into FOLDER without root (`apt-get download`), running
# `apt-get update` once when the first try fails; returns non-zero when both fail.
apt_download() {
    (cd "$2" && apt-get download -q "$1" >/dev/null 2>&1) && return 0
    apt-get update -qq >/dev/null 2>&1 || true
    (cd "$2" && apt-get download -q "$1" >/dev/null 2>&1)
}

# deb_workdir PACKAGE DEST WHAT: a fresh folder beside DEST, in $work (removed on exit), holding PACKAGE's .deb.
# Without apt, or when the download fails, it says so (WHAT: what is then missing and how else to get it) and
# returns non-zero; the caller exits 0, so an install goes on without the photos.
deb_workdir() {
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
        echo "note: no apt-get/dpkg-deb here, so $3" >&2
        return 1
    fi
    mkdir -p "$(dirname "$2")"
    work="$(mktemp -d "$(dirname "$2")/.$(basename "$2").XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    apt_download "$1" "$work" && return 0
    echo "warning: 'apt-get download $1' failed, so $3" >&2
    return 1
}
