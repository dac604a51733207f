"""The gateway's half of the upstream proxy: fetching pages and files from upstream indexes,
rewriting pages to Vestry's URLs, streaming and keeping files. The index decides what may be
proxied (DecideUpstream); docs/proxy.md has the rules."""
