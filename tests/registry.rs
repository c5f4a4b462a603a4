//! The agent's image as clawguard asks its registry for it, before anything is pulled: a
//! real registry (Debian's docker-registry on 127.0.0.1) gives the digest the compose file
//! pins and the size the review names; a registry that lies (a manifest that does not
//! hash to the digest asked for, one too big, an index without this platform) is refused
//! with a reason, and the plan then says the image is not pinned.

mod common;

use std::fs;
use std::process::{Child, Command, Stdio};

use clawguard::answers::ImageRef;
use clawguard::registry::{self, Resolved};
use common::registry::{Registry, free_port, push};

const T: std::time::Duration = std::time::Duration::from_secs(10);

fn busybox_image(addr: &str, repo: &str, tag: &str) -> String {
    let rootfs = tempfile::tempdir().unwrap();
    common::engine::busybox_rootfs(rootfs.path());
    push(addr, repo, tag, rootfs.path(), serde_json::json!({ "Cmd": ["/bin/sleep", "3600"] }))
}

#[test]
fn a_real_registry_gives_the_digest_and_size_and_the_plan_pins_and_pulls_by_it() {
    let storage = tempfile::tempdir().unwrap();
    let reg = Registry::start(storage.path(), &format!("127.0.0.1:{}", free_port()), None);
    let digest = busybox_image(&reg.addr, "agents/sleeper", "1.0");

    // What the registry stored, read on its own: config + layer, compressed.
    let manifest: serde_json::Value = serde_json::from_str(
        &ureq::get(&format!("http://{}/v2/agents/sleeper/manifests/1.0", reg.addr))
            .header("Accept", "application/vnd.docker.distribution.manifest.v2+json")
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    let size = manifest["config"]["size"].as_u64().unwrap() + manifest["layers"][0]["size"].as_u64().unwrap();

    let by_tag: ImageRef = format!("{}/agents/sleeper:1.0", reg.addr).parse().unwrap();
    assert_eq!(registry::resolve(&by_tag, T).unwrap(), Resolved { digest: digest.clone(), bytes: size });
    let pinned: ImageRef = format!("{}/agents/sleeper:1.0@{digest}", reg.addr).parse().unwrap();
    assert_eq!(registry::resolve(&pinned, T).unwrap().digest, digest);
    let other = format!("sha256:{}", "0".repeat(64));
    let missing: ImageRef = format!("{}/agents/sleeper@{other}", reg.addr).parse().unwrap();
    let e = registry::resolve(&missing, T).unwrap_err();
    assert!(e.contains("has no agents/sleeper:sha256:000"), "{e}");
    let e = registry::resolve(&format!("{}/agents/none:1", reg.addr).parse().unwrap(), T).unwrap_err();
    assert!(e.contains("has no agents/none:1"), "{e}");

    // What the front door finds on this host before the review, and the plan made from it:
    // pulled by the digest, then named by its tag; the compose file pins it and keeps the
    // tag as a comment; the review names the size. (The same walk over SSH with `sudo
    // clawguard apply` on a booted host: tests/fresh_host.rs.)
    let root = common::fixture_root("debian12-cloud");
    let text = format!("version = 1\nskip = [\"backup\"]\n[sandbox]\nprofile = \"generic\"\nimage = \"{by_tag}\"\n");
    let answers = clawguard::answers::Answers::parse(&text, "test").unwrap();
    let live = clawguard::target::Runner::Live;
    let plan_with = |fact: clawguard::host::ImageFact| {
        let mut facts = common::facts(root.path(), None);
        facts.images.insert(by_tag.to_string(), fact);
        clawguard::layers::plan(&answers, &facts).unwrap()
    };
    let fact = clawguard::session::ask_image(&by_tag, &live, false, true);
    assert_eq!(fact, clawguard::host::ImageFact::Remote(Resolved { digest: digest.clone(), bytes: size }));
    let plan = plan_with(fact);
    let p = clawguard::plan::preview::preview(&plan, &clawguard::target::Root::new(root.path()));
    let text = clawguard::report::ansi(&clawguard::report::review(&p), false);
    let pull = format!("docker pull {}/agents/sleeper@{digest}", reg.addr);
    assert!(text.contains(&pull), "the plan pulls by digest:\n{text}");
    assert!(text.contains(&format!("docker tag {}/agents/sleeper@{digest} {by_tag}", reg.addr)), "{text}");
    assert!(text.contains(&format!("({}, pinned by its digest)", registry::human(size))), "{text}");
    let summary = clawguard::report::ansi(&clawguard::report::summary(&p), false);
    assert!(summary.contains("1. Agent sandbox: ") && summary.contains(&registry::human(size)), "{summary}");
    assert!(text.contains("# Tag \"1.0\", resolved to this digest"), "the compose file keeps the tag:\n{text}");
    assert!(text.contains(&format!("image: \"{}/agents/sleeper@{digest}\"", reg.addr)), "{text}");
    assert!(!text.contains("could not be looked up"), "{text}");
    // Through a runner (another host's network), the registry is not asked from here.
    let runner = clawguard::target::Runner::Program("/bin/true".into());
    let not_here = clawguard::session::ask_image(&by_tag, &runner, false, false);
    assert!(matches!(not_here, clawguard::host::ImageFact::Unknown(ref why) if why.contains("not through --runner")));

    // No registry there any more: the plan says the image is not pinned, and why.
    drop(reg);
    let fact = clawguard::session::ask_image(&by_tag, &live, false, true);
    let plan = plan_with(fact);
    let p = clawguard::plan::preview::preview(&plan, &clawguard::target::Root::new(root.path()));
    let text = clawguard::report::ansi(&clawguard::report::review(&p), false);
    assert!(text.contains("could not be looked up (cannot reach"), "{text}");
    assert!(text.contains(&format!("image: \"{by_tag}\"")) && !text.contains("docker pull"), "{text}");
}

/// A registry that answers every manifest request with the given body.
const LIAR: &str = r#"
import http.server, sys
body = open(sys.argv[2], 'rb').read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Type', 'application/vnd.docker.distribution.manifest.v2+json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"#;

struct Liar(Child, String, #[allow(dead_code)] tempfile::TempDir);

impl Liar {
    fn serving(body: &[u8]) -> Liar {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("body"), body).unwrap();
        let port = free_port();
        let child = Command::new("python3")
            .args(["-c", LIAR, &port.to_string(), dir.path().join("body").to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        common::wait("the lying registry", 10, || std::net::TcpStream::connect(&addr).is_ok());
        Liar(child, addr, dir)
    }
}

impl Drop for Liar {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_registry_that_lies_is_refused_with_a_reason() {
    let manifest = br#"{"schemaVersion":2,"config":{"size":10},"layers":[{"size":20}]}"#;
    // Positive control: the same server, asked by tag, is believed.
    let liar = Liar::serving(manifest);
    let image: ImageRef = format!("{}/a/b:1", liar.1).parse().unwrap();
    assert_eq!(registry::resolve(&image, T).unwrap().bytes, 30);

    // Asked for a digest, it sends bytes that hash to something else.
    let pinned: ImageRef = format!("{}/a/b@sha256:{}", liar.1, "1".repeat(64)).parse().unwrap();
    let e = registry::resolve(&pinned, T).unwrap_err();
    assert!(e.contains("not the one pinned"), "{e}");
    drop(liar);

    // Bigger than any manifest.
    let liar = Liar::serving(&vec![b' '; 5 << 20]);
    let e = registry::resolve(&format!("{}/a/b:1", liar.1).parse().unwrap(), T).unwrap_err();
    assert!(e.contains("reading the manifest"), "{e}");
    drop(liar);

    // An index with no image for this platform.
    let index = br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","platform":{"architecture":"s390x","os":"linux"}}]}"#;
    let liar = Liar::serving(index);
    let e = registry::resolve(&format!("{}/a/b:1", liar.1).parse().unwrap(), T).unwrap_err();
    assert!(e.contains(&format!("no linux/{} image", registry::architecture())), "{e}");
    drop(liar);

    // Sizes that overflow, and a document that is not a manifest.
    let liar = Liar::serving(br#"{"config":{"size":18446744073709551615},"layers":[{"size":2}]}"#);
    let e = registry::resolve(&format!("{}/a/b:1", liar.1).parse().unwrap(), T).unwrap_err();
    assert!(e.contains("do not add up"), "{e}");
    drop(liar);
    let liar = Liar::serving(b"<html>login</html>");
    let e = registry::resolve(&format!("{}/a/b:1", liar.1).parse().unwrap(), T).unwrap_err();
    assert!(e.contains("that is not one"), "{e}");
}
