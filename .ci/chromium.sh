# Sourced by .ci/run: Debian's Chromium for the workstation's real-browser tests (Playwright drives it by
# executable path; Playwright's own browser download is never used). Installed with apt-get when absent;
# where it cannot be installed the browser tests skip, saying why.

ensure_chromium() {
    if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "ci: installing Debian's chromium package"
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
            || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; } >/dev/null \
            || echo "ci: WARNING: chromium could not be installed; the browser tests will skip"
    else
        echo "ci: WARNING: no chromium and no apt-get as root; the browser tests will skip"
    fi
}
