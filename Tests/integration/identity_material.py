"""Test credentials: X.509-SVIDs from the committed openssl script, signing keys and JWKS
files for JWT-SVIDs and OIDC, and a minting helper. Test-only keys, made per run."""
import base64
import json
import subprocess
import time
import uuid
from pathlib import Path

import jwt
from conftest import share_with_postern
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ROOT = Path(__file__).resolve().parents[2]
MAKE_SVIDS = ROOT / "Tests" / "fixtures" / "make_svids.sh"
AUDIENCE = "spiffe://example.org/postern"
OIDC_ISSUER = "https://idp.example.test"


def make_svids(directory):
    subprocess.run(["sh", str(MAKE_SVIDS), str(directory)], check=True)
    return share_with_postern(directory)


def jwk(private_key, kid):
    """The public JWK of a key, as PyJWT writes it, with our kid and use."""
    algorithm = jwt.algorithms.ECAlgorithm if isinstance(private_key, ec.EllipticCurvePrivateKey) \
        else jwt.algorithms.RSAAlgorithm
    entry = json.loads(algorithm.to_jwk(private_key.public_key()))
    entry["kid"] = kid
    return entry


def write_jwks(path, entries):
    Path(path).write_text(json.dumps({"keys": entries}))


def write_spiffe_helper_bundles(path, bundles):
    """spiffe-helper's jwt_bundle_file_name: trust domain to base64 of the JWKS."""
    Path(path).write_text(json.dumps({
        domain: base64.b64encode(json.dumps({"keys": entries}).encode()).decode()
        for domain, entries in bundles.items()
    }))


class Keys:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.svid_key = ec.generate_private_key(ec.SECP256R1())      # example.org JWT bundle
        self.other_key = ec.generate_private_key(ec.SECP384R1())     # other.org (spiffe-helper file)
        self.oidc_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.stranger = ec.generate_private_key(ec.SECP256R1())      # in no bundle
        self.svid_jwks = self.dir / "example.org.jwks"
        self.helper_bundles = self.dir / "jwt_bundle.json"
        self.oidc_jwks = self.dir / "idp.jwks"
        write_jwks(self.svid_jwks, [jwk(self.svid_key, "k1")])
        write_spiffe_helper_bundles(self.helper_bundles, {"other.org": [jwk(self.other_key, "o1")]})
        write_jwks(self.oidc_jwks, [jwk(self.oidc_key, "idp-1")])

    def identity_yaml(self, extra=""):
        return ("{ trust_domain: example.org, max_token_lifetime: 15m, leeway: 30s, reload_interval: 200ms, "
                f"x509_bundles: {{ example.org: {self.dir / 'ca-example.org.pem'}, "
                f"other.org: {self.dir / 'ca-other.org.pem'} }}, "
                "jwt_issuers: ["
                f"{{ kind: jwt-svid, bundle: {self.svid_jwks}, audience: '{AUDIENCE}' }}, "
                f"{{ kind: jwt-svid, bundle: {self.helper_bundles}, audience: '{AUDIENCE}' }}, "
                f"{{ kind: oidc, issuer: '{OIDC_ISSUER}', jwks: {self.oidc_jwks}, audience: postern, "
                "identity_claim: email }]" + extra + " }")

    def jwt_svid_yaml(self):
        """An identity section that takes JWT-SVIDs only (cleartext listeners)."""
        return ("{ trust_domain: example.org, jwt_issuers: [{ kind: jwt-svid, "
                f"bundle: {self.svid_jwks}, audience: '{AUDIENCE}' }}] }}")

    def tls_yaml(self, clients="optional", extra=""):
        return (f"{{ certificate: {self.dir / 'server.pem'}, private_key: {self.dir / 'server-pkcs8.key'}, "
                f"client_certificates: {clients}{extra} }}")


def mint(key, kid="k1", alg="ES256", sub="spiffe://example.org/ns/app/sa/web", aud=AUDIENCE,
         lifetime=300, issued=None, headers=None, **claims):
    """A signed token; `lifetime=None` leaves out exp."""
    now = int(time.time()) if issued is None else issued
    payload = {"sub": sub, "aud": aud, "iat": now, "jti": str(uuid.uuid4()), **claims}
    if lifetime is not None:
        payload["exp"] = now + lifetime
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, **(headers or {})})


def unsigned(claims, alg):
    """A token with `alg` none or HS256 (signed with a guessable secret)."""
    header = base64.urlsafe_b64encode(json.dumps({"alg": alg, "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    if alg == "none":
        return (header + b"." + body + b".").decode()
    return jwt.encode(claims, "a-shared-secret-anyone-could-copy-32b", algorithm=alg)
