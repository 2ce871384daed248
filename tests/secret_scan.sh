# secret_scan.sh: no file a test produced holds a secret the test declared (sourced).
#
# Sourced by the integration libs (tests/integration/*/lib.sh) and tests/e2e/lib.sh; their
# cleanup traps call secret_scan on the work directory before removing it, and a hit
# fails the test (exit 1), naming the file and the line with the secret masked.
#
# Secrets are declared with secret_add (the libs do it for their fixtures' passwords, the
# secret files they write, the passwords in story files and every no_secrets call); the
# files where a secret is legitimately the payload are named with secret_skip GLOB REASON
# (GLOB relative to the scanned directory; `*` also matches `/`). Everything else
# (plugin and core logs, outputs, databases, fixture logs, leftovers) is scanned, binary
# files included. Symbolic links are not followed.
# shellcheck shell=sh

SECRETS=""
SECRET_SKIPS=""

# secret_add SECRET...: declares secrets (empty words are ignored).
secret_add() {
    for _ss in "$@"; do
        [ -n "$_ss" ] && SECRETS="$SECRETS$_ss
"
    done
    return 0
}

# secret_skip GLOB REASON: files matching GLOB hold a secret by design; REASON is for
# the reader of the test (and printed with OVP_SECRET_SCAN_VERBOSE=1).
secret_skip() {
    SECRET_SKIPS="$SECRET_SKIPS$1
"
    [ -n "${OVP_SECRET_SCAN_VERBOSE:-}" ] && echo "secret scan: skipping $1: $2"
    return 0
}

# secret_story FILE...: declares the passwords of refcore stories (`pass=P` words of
# client and reneg lines, quoted or not) and the decoded `crresponse` texts. Values
# shorter than 6 characters ("x", "p1") are left out: they match ordinary log text.
secret_story() {
    for _sf in "$@"; do
        [ -f "$_sf" ] || continue
        # one value per line; quotes around a pass= word are dropped
        _sv=$(sed -n 's/^[[:space:]]*\(client\|reneg\|roam\)[[:space:]].*pass=\("\([^"]*\)"\|\([^[:space:]]*\)\).*/\3\4/p' "$_sf")
        _sv="$_sv
$(sed -n 's/^[[:space:]]*crresponse[[:space:]][[:space:]]*[^[:space:]]*[[:space:]][[:space:]]*\([A-Za-z0-9+\/=]*\).*/\1/p' "$_sf" \
            | while read -r _b; do printf '%s' "$_b" | base64 -d 2>/dev/null; echo; done)"
        _old_ifs=$IFS
        _noglob=$(case $- in *f*) echo 1 ;; esac)
        set -f # a password may hold * or ?
        IFS='
'
        for _s in $_sv; do
            [ ${#_s} -ge 6 ] && secret_add "$_s"
        done
        IFS=$_old_ifs
        [ -n "$_noglob" ] || set +f
    done
    return 0
}

# secret_mask SECRET: stdin lines with each SECRET replaced by its first 2 characters and
# "***", non-printable bytes as ".", cut to 200 characters.
secret_mask() {
    SECRET_SCAN_S=$1 LC_ALL=C awk '{
        s = ENVIRON["SECRET_SCAN_S"]; out = ""; rest = $0
        while ((i = index(rest, s)) > 0) {
            out = out substr(rest, 1, i - 1) substr(s, 1, 2) "***"
            rest = substr(rest, i + length(s))
        }
        print substr(out rest, 1, 200)
    }' | LC_ALL=C tr -c '[:print:]\n' '.'
}

# secret_scan DIR: 0 when no file under DIR (but the skipped ones) holds a declared
# secret; otherwise prints one FAIL line per hit (at most 5 per file and secret) and
# returns 1.
secret_scan() {
    _dir=$1
    [ -d "$_dir" ] || return 0
    [ -n "$SECRETS" ] || return 0
    _hits=0
    _list=$(find "$_dir" -type f 2>/dev/null)
    _uniq=$(printf '%s' "$SECRETS" | LC_ALL=C sort -u)
    _old_ifs=$IFS
    _noglob=$(case $- in *f*) echo 1 ;; esac)
    set -f # file names and secrets may hold * or ?
    IFS='
'
    for _f in $_list; do
        _rel=${_f#"$_dir"/}
        _skip=0
        for _g in $SECRET_SKIPS; do
            # shellcheck disable=SC2254 # the glob is the point
            case $_rel in $_g) _skip=1; break ;; esac
        done
        [ $_skip -eq 1 ] && continue
        for _s in $_uniq; do
            if LC_ALL=C grep -a -q -F -- "$_s" "$_f" 2>/dev/null; then
                _hits=$((_hits + 1))
                _m=$(printf '%s' "$_s" | cut -c1-2)
                LC_ALL=C grep -a -n -F -- "$_s" "$_f" | head -n 5 | secret_mask "$_s" \
                    | while IFS= read -r _l; do
                        echo "FAIL: secret scan: a secret ($_m***, ${#_s} chars) in $_rel:$_l"
                    done
            fi
        done
    done
    IFS=$_old_ifs
    [ -n "$_noglob" ] || set +f
    [ $_hits -eq 0 ] && return 0
    echo "FAIL: secret scan: $_hits file/secret pair(s) under $_dir hold a declared secret"
    return 1
}
