"""Which Debian mirror debootstrap uses: parsed from this machine's apt sources."""

from pathlib import Path

from gitops.images import aptsources

# Shaped like the files on a Debian 12 host upgraded with a trixie entry (deb822), with a
# snapshot comment inside a stanza and a third-party repository next to it.
DEBIAN_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

NODESOURCE_SOURCES = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
Architectures: amd64
Signed-By: /usr/share/keyrings/nodesource.gpg
"""

TRIXIE_SOURCES = """\
Types: deb deb-src
URIs: http://ftp.de.debian.org/debian/
Suites: trixie
 trixie-updates
Components: main contrib non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Enabled: no
Types: deb
URIs: http://disabled.example.org/debian
Suites: trixie
Components: main
"""

# The classic one-line form, as the Debian installer writes it.
SOURCES_LIST = """\
#deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 NETINST]/ bookworm main

deb http://mirror.example.net/debian/ bookworm main non-free-firmware
deb-src http://mirror.example.net/debian/ bookworm main non-free-firmware

deb http://security.debian.org/debian-security bookworm-security main non-free-firmware
deb [arch=amd64 signed-by=/usr/share/keyrings/cloud.google.gpg] https://packages.cloud.google.com/apt \
cloud-sdk main
deb http://mirror.example.net/debian/ trixie main   # added for the upgrade
"""


def test_deb822_stanzas_with_comments_and_continuations() -> None:
    sources = aptsources.parse_deb822(DEBIAN_SOURCES + "\n" + TRIXIE_SOURCES)
    assert [s.uris for s in sources] == [
        ("http://deb.debian.org/debian",),
        ("http://deb.debian.org/debian-security",),
        ("http://ftp.de.debian.org/debian/",),
    ]  # the Enabled: no stanza is gone
    assert sources[0].suites == ("bookworm", "bookworm-updates")
    assert sources[2].suites == ("trixie", "trixie-updates")
    assert sources[2].types == ("deb", "deb-src")


def test_one_line_form_with_options_and_comments() -> None:
    sources = aptsources.parse_one_line(SOURCES_LIST)
    assert len(sources) == 5
    google = sources[3]
    assert google.uris == ("https://packages.cloud.google.com/apt",) and google.suites == ("cloud-sdk",)
    assert sources[4] == aptsources.AptSource(("deb",), ("http://mirror.example.net/debian/",), ("trixie",),
                                          ("main",))


def test_exact_suite_wins_over_another_release() -> None:
    sources = aptsources.parse_one_line(SOURCES_LIST)
    sources[-1:] = [aptsources.AptSource(("deb",), ("http://trixie-only.example.net/debian",), ("trixie",),
                                     ("main",))]
    assert aptsources.pick_mirror(sources, "trixie") == "http://trixie-only.example.net/debian"


def test_a_bookworm_mirror_serves_trixie_but_security_and_third_party_do_not() -> None:
    sources = aptsources.parse_deb822(NODESOURCE_SOURCES) + aptsources.parse_deb822(DEBIAN_SOURCES)
    assert aptsources.pick_mirror(sources, "trixie") == "http://deb.debian.org/debian"
    only_others = aptsources.parse_deb822(NODESOURCE_SOURCES) + aptsources.parse_deb822(DEBIAN_SOURCES)[1:]
    assert aptsources.pick_mirror(only_others, "trixie") is None


def test_read_apt_sources_reads_list_and_sources_files_only(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(SOURCES_LIST)
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEBIAN_SOURCES)
    (tmp_path / "sources.list.d" / "nodesource.sources.disabled-by-farm").write_text(NODESOURCE_SOURCES)
    uris = {u for s in aptsources.read_apt_sources(tmp_path) for u in s.uris}
    assert "http://deb.debian.org/debian" in uris and "http://mirror.example.net/debian/" in uris
    assert not any("nodesource" in u for u in uris)


def test_the_image_sources_follow_the_mirror_it_was_built_from() -> None:
    text = aptsources.sources_file("http://deb.debian.org/debian", "trixie")
    parsed = aptsources.parse_deb822(text)
    assert [(s.uris, s.suites) for s in parsed] == [
        (("http://deb.debian.org/debian",), ("trixie", "trixie-updates")),
        (("http://deb.debian.org/debian-security",), ("trixie-security",)),
    ]
    local = aptsources.parse_deb822(aptsources.sources_file("http://mirror.lan/debian", "trixie"))
    assert [s.uris for s in local] == [("http://mirror.lan/debian",)]
