#!/usr/bin/env python3
"""Seeded generator of the privacy evaluation corpus (bench/privacy_bench.cc reads it).

Each record is one realistic file or log excerpt (env dump, .env, shell history, kubeconfig,
Python traceback, nvidia-smi -q, dmidecode, auth.log, application log, CSV rows, .netrc,
.pgpass, pip.conf, service-account JSON, ip addr) with planted secrets and personal data and
benign look-alikes (commit hashes, digests, UUIDs, PCI addresses, versions, addresses in
memory, paths, model names, timestamps) that must survive. Layouts follow the real files'
public formats; values are random but format-valid (right prefix, length and alphabet;
Luhn-valid cards; check-digit-valid IDs).

  python3 bench/privacy_corpus.py --seed 1 --split tune   > bench/privacy_corpus_tune.jsonl
  python3 bench/privacy_corpus.py --seed 2 --split report > bench/privacy_corpus_report.jsonl

The "report" split also uses templates the "tune" split never contains (HELD_OUT).
"""
import argparse
import base64
import json
import random
import string

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
FIRST = ["alice", "bwang", "carol", "dchen", "erik", "fatima", "gliu", "hiro", "ivan", "jzhang",
         "kpatel", "lmartin", "mnguyen", "olga", "pkumar", "qli", "rsmith", "sato", "tyang", "umar"]
NAMES = ["Alice Moreau", "Bo Wang", "Carol Diaz", "Dan Chen", "Erik Larsen", "Fatima Khan",
         "Hiro Tanaka", "Ivan Petrov", "Jing Zhang", "Kiran Patel"]
DOMAINS = ["corp.example.com", "acme-ai.example.net", "lab.example.org", "mail.example.io",
           "research.example.de", "example.cn", "ml.example.co.uk"]
SITE = ["dc1", "prod", "hpc", "gpu", "infra", "k8s", "train"]
MODELS = ["meta-llama/Llama-3.1-8B", "mistralai/Mistral-7B-v0.3", "Qwen/Qwen2.5-7B-Instruct",
          "google/gemma-2-9b", "deepseek-ai/DeepSeek-V2-Lite", "bert-base-uncased"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def s(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def pick(self, xs):
        return self.r.choice(xs)

    # --- planted values -------------------------------------------------------------
    def user(self):
        return self.pick(FIRST) + (str(self.r.randint(1, 99)) if self.r.random() < 0.3 else "")

    def email(self):
        u = self.pick(FIRST)
        sep = self.pick([".", "_", ""])
        return u + sep + self.s(string.ascii_lowercase, self.r.randint(1 if sep else 0, 4)) + "@" + self.pick(DOMAINS)

    def fqdn(self):
        return "%s-%s%02d.%s.%s" % (self.pick(["gpu", "node", "db", "api", "login", "nfs", "k8s"]),
                                    self.pick(SITE), self.r.randint(1, 64), self.pick(SITE),
                                    self.pick(["example.com", "internal", "corp.example.net", "lan", "example.org"]))

    def short_host(self):
        return "%s-%s%02d" % (self.pick(["gpu", "node", "dgx", "worker", "login"]), self.pick(SITE),
                              self.r.randint(1, 99))

    def ipv4(self):
        first = self.pick([10, 172, 192, 100, 52, 34, 203, 47])
        if first == 192:
            return "192.168.%d.%d" % (self.r.randint(0, 255), self.r.randint(1, 254))
        if first == 172:
            return "172.%d.%d.%d" % (self.r.randint(16, 31), self.r.randint(0, 255), self.r.randint(1, 254))
        return "%d.%d.%d.%d" % (first, self.r.randint(0, 255), self.r.randint(0, 255), self.r.randint(1, 254))

    def ipv6(self):
        groups = [self.s(HEX, self.r.randint(1, 4)).lstrip("0") or "0" for _ in range(4)]
        return self.pick(["fe80::", "2001:db8::", "2408:8207:%s::" % self.s(HEX, 4)]) + ":".join(groups)

    def mac(self):
        b = [self.r.randint(0, 255) for _ in range(6)]
        b[0] &= 0xFE
        return self.pick([":", "-"]).join("%02x" % x for x in b)

    def phone(self):
        kind = self.r.randint(0, 3)
        if kind == 0:
            return "1%d%s" % (self.r.randint(3, 9), self.s(string.digits, 9))
        if kind == 1:
            return "+86 1%d%s %s %s" % (self.r.randint(3, 9), self.s(string.digits, 1), self.s(string.digits, 4), self.s(string.digits, 4))
        if kind == 2:
            return "(%d%s) %d%s-%s" % (self.r.randint(2, 9), self.s(string.digits, 2), self.r.randint(2, 9), self.s(string.digits, 2), self.s(string.digits, 4))
        return "+%s %s %s %s" % (self.pick(["44", "49", "33", "81", "65"]), self.s(string.digits, 2),
                                 self.s(string.digits, 4), self.s(string.digits, 4))

    def luhn_complete(self, prefix, length):
        body = prefix + self.s(string.digits, length - len(prefix) - 1)
        for c in string.digits:
            t = body + c
            total = 0
            for i, ch in enumerate(reversed(t)):
                d = int(ch)
                if i % 2 == 1:
                    d *= 2
                    if d > 9:
                        d -= 9
                total += d
            if total % 10 == 0:
                return t
        raise AssertionError

    def card(self):
        kind = self.r.randint(0, 3)
        if kind == 0:
            n = self.luhn_complete("4", 16)
        elif kind == 1:
            n = self.luhn_complete(str(self.r.randint(51, 55)), 16)
        elif kind == 2:
            n = self.luhn_complete(self.pick(["34", "37"]), 15)
            return self.pick([n, "%s %s %s" % (n[:4], n[4:10], n[10:])])
        else:
            n = self.luhn_complete("62", 16)
        sep = self.pick(["", " ", "-"])
        return sep.join(n[i:i + 4] for i in range(0, len(n), 4))

    def cn_id(self):
        area = self.pick(["110105", "310104", "440305", "510107", "330106"])
        birth = "%d%02d%02d" % (self.r.randint(1950, 2005), self.r.randint(1, 12), self.r.randint(1, 28))
        body = area + birth + self.s(string.digits, 3)
        w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        return body + "10X98765432"[sum(int(a) * b for a, b in zip(body, w)) % 11]

    def ssn(self):
        return "%03d-%02d-%04d" % (self.r.choice([x for x in range(1, 900) if x != 666]),
                                   self.r.randint(1, 99), self.r.randint(1, 9999))

    def gpu_serial(self):
        return "1%s" % self.s(string.digits, 12)

    def disk_serial(self):
        return self.pick(["S4EW", "WD-WX", "PHLJ", "ZL2"]) + self.s(string.ascii_uppercase + string.digits, 10)

    def password(self):
        return self.s(ALNUM, self.r.randint(2, 5)) + self.pick(["!", "#", "_", "", "%", "."]) + self.s(ALNUM, self.r.randint(4, 10))

    def aws_id(self):
        return self.pick(["AKIA", "ASIA"]) + self.s(string.ascii_uppercase + "234567", 16)

    def aws_secret(self):
        return self.s(ALNUM + "/+", 40)

    def gh(self):
        return self.pick(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + self.s(ALNUM, 36)

    def gh_fine(self):
        return "github_pat_11" + self.s(string.ascii_uppercase + string.digits, 20) + "_" + self.s(ALNUM, 59)

    def jwt(self):
        header = base64.urlsafe_b64encode(json.dumps({"alg": self.pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}).encode()).decode().rstrip("=")
        payload = base64.urlsafe_b64encode(json.dumps({"sub": self.user(), "iat": self.r.randint(1600000000, 1800000000)}).encode()).decode().rstrip("=")
        return header + "." + payload + "." + self.s(ALNUM + "-_", 43)

    def pem_body(self, lines=6):
        return [self.s(ALNUM + "+/", 64) for _ in range(lines)]

    def token(self, kind):
        t = {
            "gitlab": lambda: "glpat-" + self.s(ALNUM + "-_", 20),
            "slack": lambda: "xox%s-%s-%s-%s" % (self.pick("bpa"), self.s(string.digits, 12), self.s(string.digits, 13), self.s(ALNUM, 24)),
            "stripe": lambda: self.pick(["sk_live_", "rk_live_", "sk_test_"]) + self.s(ALNUM, 24),
            "openai": lambda: self.pick(["sk-proj-", "sk-"]) + self.s(ALNUM, 20) + "T3BlbkFJ" + self.s(ALNUM, 20),
            "anthropic": lambda: "sk-ant-api03-" + self.s(ALNUM + "-_", 93) + "AA",
            "hf": lambda: "hf_" + self.s(ALNUM, 34),
            "wandb": lambda: self.s(HEX, 40),
            "npm": lambda: "npm_" + self.s(ALNUM, 36),
            "pypi": lambda: "pypi-AgEIcHlwaS5vcmc" + self.s(ALNUM + "-_", 60),
            "gcp": lambda: "AIza" + self.s(ALNUM + "-_", 35),
            "azure": lambda: self.s(ALNUM + "+/", 86) + "==",
            "alibaba": lambda: "LTAI" + self.s(ALNUM, 20),
            "tencent": lambda: "AKID" + self.s(ALNUM, 32),
            "sas": lambda: self.s(ALNUM, 20) + "%2B" + self.s(ALNUM, 10) + "%3D",
        }
        return t[kind]()

    # --- benign look-alikes ---------------------------------------------------------
    def benign(self):
        k = self.r.randint(0, 12)
        return [
            lambda: self.s(HEX, 40),
            lambda: "sha256:" + self.s(HEX, 64),
            lambda: "%s-%s-%s-%s-%s" % (self.s(HEX, 8), self.s(HEX, 4), self.s(HEX, 4), self.s(HEX, 4), self.s(HEX, 12)),
            lambda: "0000:%02x:%02x.%d" % (self.r.randint(0, 255), self.r.randint(0, 31), self.r.randint(0, 7)),
            lambda: "%d.%d.%d" % (self.r.randint(0, 3), self.r.randint(0, 30), self.r.randint(0, 200)),
            lambda: "0x7ff%s" % self.s(HEX, 9),
            lambda: "/opt/%s/%s.py" % (self.pick(["train", "serve", "eval"]), self.pick(["main", "model", "data_loader"])),
            lambda: self.pick(MODELS),
            lambda: "2024-%02d-%02dT%02d:%02d:%02dZ" % (self.r.randint(1, 12), self.r.randint(1, 28), self.r.randint(0, 23), self.r.randint(0, 59), self.r.randint(0, 59)),
            lambda: "CUDA %d.%d" % (self.pick([11, 12]), self.r.randint(0, 8)),
            lambda: self.pick(["model.safetensors", "config.json", "tokenizer.json", "pytorch_model.bin", "train.py", "setup.cfg"]),
            lambda: "step %d/%d" % (self.r.randint(1, 9999), 10000),
            lambda: "version %d.%d.%d.%d" % (self.r.randint(1, 9), self.r.randint(0, 20), self.r.randint(0, 99), self.r.randint(0, 9)),
        ][k]()


# Each template returns (text, planted [(category, value)], benign [value]).
def t_env_dump(g):
    u, h = g.user(), g.short_host()
    aid, sec, hf, wb = g.aws_id(), g.aws_secret(), g.token("hf"), g.token("wandb")
    cuda = "%d.%d" % (g.pick([11, 12]), g.r.randint(0, 8))
    lines = ["SHELL=/bin/bash", "HOSTNAME=%s" % h, "HOME=/home/%s" % u, "USER=%s" % u, "LOGNAME=%s" % u,
             "PATH=/usr/local/cuda-%s/bin:/usr/local/sbin:/usr/bin" % cuda, "CUDA_VISIBLE_DEVICES=0,1,2,3",
             "AWS_ACCESS_KEY_ID=%s" % aid, "AWS_SECRET_ACCESS_KEY=%s" % sec, "HF_TOKEN=%s" % hf,
             "WANDB_API_KEY=%s" % wb, "NCCL_SOCKET_IFNAME=eth0", "LANG=en_US.UTF-8", "PWD=/home/%s/work" % u]
    g.r.shuffle(lines)
    return "\n".join(lines), [("user", u), ("host", h), ("secret", aid), ("secret", sec), ("secret", hf), ("secret", wb)], ["/usr/local/cuda-%s/bin" % cuda]


def t_dotenv(g):
    u, pw, host = g.user(), g.password(), g.fqdn()
    st, sl, an = g.token("stripe"), g.token("slack"), g.token("anthropic")
    hook = "T%s/B%s/%s" % (g.s(string.ascii_uppercase + string.digits, 8), g.s(string.ascii_uppercase + string.digits, 10), g.s(ALNUM, 24))
    text = "\n".join([
        "# production settings",
        "DATABASE_URL=postgres://%s:%s@%s:5432/app" % (u, pw, host),
        "STRIPE_SECRET_KEY=%s" % st,
        "SLACK_BOT_TOKEN=%s" % sl,
        "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/%s" % hook,
        "ANTHROPIC_API_KEY=%s" % an,
        "MODEL_NAME=%s" % g.pick(MODELS),
        "MAX_TOKENS=4096",
        "DEBUG=false",
    ])
    return text, [("user", u), ("secret", pw), ("host", host), ("secret", st), ("secret", sl), ("secret", hook), ("secret", an)], ["MAX_TOKENS=4096"]


def t_history(g):
    u, pw, ip, host, ghp, jwt = g.user(), g.password(), g.ipv4(), g.fqdn(), g.gh(), g.jwt()
    pw2 = g.password()
    lines = [
        "nvidia-smi",
        "cd /home/%s/llm && git pull" % u,
        "export GITHUB_TOKEN=%s" % ghp,
        "mysql -u %s -p%s -h %s prod" % (u, pw, ip),
        "ssh %s@%s" % (u, host),
        "curl -H 'Authorization: Bearer %s' https://%s/v1/models" % (jwt, host),
        "sshpass -p %s scp model.safetensors %s@%s:/data/" % (pw2, u, ip),
        "huggingface-cli download %s" % g.pick(MODELS),
        "python train.py --lr 3e-4 --epochs 3",
        "git log --oneline | head",
    ]
    g.r.shuffle(lines)
    return "\n".join(lines), [("user", u), ("secret", pw), ("ip", ip), ("host", host), ("secret", ghp), ("secret", jwt), ("secret", pw2)], ["model.safetensors", "train.py", "3e-4"]


def t_kubeconfig(g):
    ip, u, jwt = g.ipv4(), g.user(), g.jwt()
    ca = base64.b64encode(g.s(ALNUM, 90).encode()).decode()
    text = "\n".join([
        "apiVersion: v1", "clusters:", "- cluster:", "    certificate-authority-data: %s" % ca,
        "    server: https://%s:6443" % ip, "  name: kubernetes", "contexts:", "- context:",
        "    cluster: kubernetes", "    user: %s" % u, "  name: %s@kubernetes" % u,
        "current-context: %s@kubernetes" % u, "kind: Config", "preferences: {}", "users:",
        "- name: %s" % u, "  user:", "    token: %s" % jwt])
    return text, [("ip", ip), ("user", u), ("secret", jwt)], [ca[:40]]


def t_traceback(g):
    u, host, key = g.user(), g.fqdn(), g.token("openai")
    addr = "0x7f%s" % g.s(HEX, 10)
    text = "\n".join([
        "Traceback (most recent call last):",
        '  File "/home/%s/proj/train.py", line %d, in <module>' % (u, g.r.randint(10, 400)),
        "    main()",
        '  File "/usr/lib/python3/dist-packages/requests/adapters.py", line 519, in send',
        "    raise ConnectionError(e, request=request)",
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='%s', port=443): Max retries exceeded with url: /v1/chat/completions (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at %s>: Failed to establish a new connection'))" % (host, addr),
        "openai.api_key = '%s'" % key])
    return text, [("user", u), ("host", host), ("secret", key)], [addr, "adapters.py", "train.py"]


def t_nvidia_smi(g):
    sn = g.gpu_serial()
    uuid = "GPU-%s-%s-%s-%s-%s" % (g.s(HEX, 8), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 12))
    bus = "00000000:%02X:00.0" % g.r.randint(16, 250)
    vbios = "%d.00.%02d.00.%02d" % (g.pick([92, 94, 96]), g.r.randint(10, 99), g.r.randint(1, 20))
    drv = "%d.%d.%02d" % (g.pick([535, 550, 560]), g.r.randint(10, 200), g.r.randint(1, 99))
    text = "\n".join([
        "==============NVSMI LOG==============", "",
        "Timestamp                                 : Mon May  6 10:22:33 2024",
        "Driver Version                            : %s" % drv,
        "CUDA Version                              : 12.%d" % g.r.randint(0, 6), "",
        "Attached GPUs                             : 8",
        "GPU %s" % bus,
        "    Product Name                          : NVIDIA A100-SXM4-80GB",
        "    Serial Number                         : %s" % sn,
        "    GPU UUID                              : %s" % uuid,
        "    VBIOS Version                         : %s" % vbios,
        "    Board Part Number                     : 692-2G506-0212-002",
        "    PCI",
        "        Bus Id                            : %s" % bus])
    return text, [("serial", sn)], [uuid, bus, vbios, drv]


def t_dmidecode(g):
    sn, uuid = g.disk_serial(), "%s-%s-%s-%s-%s" % (g.s(HEX, 8), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 12))
    text = "\n".join(["Handle 0x0001, DMI type 1, 27 bytes", "System Information",
                      "\tManufacturer: Supermicro", "\tProduct Name: SYS-420GP-TNAR",
                      "\tVersion: 0123456789", "\tSerial Number: %s" % sn, "\tUUID: %s" % uuid,
                      "\tSKU Number: To be filled by O.E.M."])
    return text, [("serial", sn)], [uuid, "SYS-420GP-TNAR"]


def t_authlog(g):
    h, u, ip, ip2 = g.short_host(), g.user(), g.ipv4(), g.ipv4()
    fp = base64.b64encode(g.s(ALNUM, 32).encode()).decode().rstrip("=")
    text = "\n".join([
        "May  6 10:22:%02d %s sshd[%d]: Accepted publickey for %s from %s port %d ssh2: RSA SHA256:%s" % (g.r.randint(0, 59), h, g.r.randint(1000, 99999), u, ip, g.r.randint(1024, 65535), fp),
        "May  6 10:23:01 %s sudo:   %s : TTY=pts/0 ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/nvidia-smi -r" % (h, u, u),
        "May  6 10:24:11 %s sshd[%d]: Invalid user admin from %s port 40022" % (h, g.r.randint(1000, 99999), ip2),
        "May  6 10:25:00 %s kernel: [ 8123.456789] NVRM: Xid (PCI:0000:3b:00): 79, pid=%d, GPU has fallen off the bus." % (h, g.r.randint(100, 9999))])
    return text, [("host", h), ("user", u), ("ip", ip), ("ip", ip2)], ["0000:3b:00", "8123.456789"]


def t_applog(g):
    e, ip, ph, card, cid = g.email(), g.ipv4(), g.phone(), g.card(), g.cn_id()
    ts = "2024-%02d-%02dT%02d:%02d:%02d.%03dZ" % (g.r.randint(1, 12), g.r.randint(1, 28), g.r.randint(0, 23), g.r.randint(0, 59), g.r.randint(0, 59), g.r.randint(0, 999))
    req = "%s-%s-%s-%s-%s" % (g.s(HEX, 8), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 12))
    text = "\n".join([
        "%s INFO  api  request_id=%s user=%s ip=%s path=/v1/orders latency_ms=%d" % (ts, req, e, ip, g.r.randint(1, 900)),
        "%s WARN  billing  card=%s declined, contact phone %s" % (ts, card, ph),
        "%s INFO  kyc  verified id_number=%s" % (ts, cid)])
    return text, [("email", e), ("ip", ip), ("phone", ph), ("card", card), ("national_id", cid)], [ts, req]


def t_csv(g):
    rows = ["id,name,email,phone,ssn,signup,plan"]
    planted = []
    for _ in range(g.r.randint(2, 5)):
        e, ph, ssn = g.email(), g.phone(), g.ssn()
        rid = "%s-%s-%s-%s-%s" % (g.s(HEX, 8), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 4), g.s(HEX, 12))
        rows.append('%s,"%s",%s,%s,%s,2023-%02d-%02d,%s' % (rid, g.pick(NAMES), e, ph, ssn, g.r.randint(1, 12), g.r.randint(1, 28), g.pick(["free", "pro"])))
        planted += [("email", e), ("phone", ph), ("national_id", ssn)]
    return "\n".join(rows), planted, []


def t_netrc_pgpass(g):
    u, pw, host, wb = g.user(), g.password(), g.fqdn(), g.token("wandb")
    pw2, host2 = g.password(), g.fqdn()
    text = "\n".join([
        "# ~/.netrc", "machine %s login %s password %s" % (host, u, pw),
        "machine api.wandb.ai", "  login user", "  password %s" % wb,
        "# ~/.pgpass", "%s:5432:analytics:%s:%s" % (host2, u, pw2)])
    return text, [("host", host), ("user", u), ("secret", pw), ("secret", wb), ("secret", pw2), ("host", host2)], []


def t_pipconf(g):
    u, pw, host, npm, pypi = g.user(), g.password(), g.fqdn(), g.token("npm"), g.token("pypi")
    text = "\n".join(["[global]", "index-url = https://%s:%s@%s/simple" % (u, pw, host),
                      "trusted-host = %s" % host, "timeout = 60", "",
                      "# ~/.npmrc", "//registry.npmjs.org/:_authToken=%s" % npm, "",
                      "# ~/.pypirc", "[pypi]", "username = __token__", "password = %s" % pypi])
    return text, [("user", u), ("secret", pw), ("host", host), ("secret", npm), ("secret", pypi)], []


def t_service_account(g):
    kid = g.s(HEX, 40)
    body = g.pem_body(4)
    proj = "%s-%d" % (g.pick(["ml", "train", "infer"]), g.r.randint(100000, 999999))
    email = "trainer@%s.iam.gserviceaccount.com" % proj
    text = json.dumps({"type": "service_account", "project_id": proj, "private_key_id": kid,
                       "private_key": "-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----\n",
                       "client_email": email, "client_id": str(g.r.randint(10**20, 10**21))}, indent=2)
    return text, [("secret", kid), ("secret", body[0]), ("secret", body[3]), ("email", email)], []


def t_ip_addr(g):
    mac, ip, ip6 = g.mac(), g.ipv4(), g.ipv6()
    text = "\n".join([
        "2: ens1f0np0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9000 qdisc mq state UP group default qlen 1000",
        "    link/ether %s brd ff:ff:ff:ff:ff:ff" % mac,
        "    inet %s/24 brd %s.255 scope global ens1f0np0" % (ip, ip.rsplit(".", 1)[0]),
        "       valid_lft forever preferred_lft forever",
        "    inet6 %s/64 scope link" % ip6])
    return text, [("mac", mac), ("ip", ip), ("ip", ip6)], ["ff:ff:ff:ff:ff:ff"]


# Held out of the tuning split: only the report split contains these layouts.
def t_cloud_config(g):
    ali, ten, gcp, az, sas = g.token("alibaba"), g.token("tencent"), g.token("gcp"), g.token("azure"), g.token("sas")
    gl, acct = g.token("gitlab"), g.pick(["mlstore", "ckpts", "datasets"]) + str(g.r.randint(1, 99))
    text = "\n".join([
        "[default]", "alibaba_cloud_access_key_id = %s" % ali, "tencentcloud_secret_id = %s" % ten,
        "google_api_key: %s" % gcp,
        "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net" % (acct, az),
        "ckpt_url: https://%s.blob.core.windows.net/ckpt/model.safetensors?sv=2022-11-02&ss=b&srt=o&sp=r&se=2025-01-01T00:00:00Z&sig=%s" % (acct, sas),
        "git remote set-url origin https://oauth2:%s@gitlab.com/team/llm.git" % gl])
    return text, [("secret", ali), ("secret", ten), ("secret", gcp), ("secret", az), ("secret", sas), ("secret", gl)], ["2022-11-02"]


def t_ssh_key(g):
    body = g.pem_body(g.r.randint(5, 9))
    u, h = g.user(), g.short_host()
    text = "\n".join(["$ cat ~/.ssh/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----"] + body +
                     ["-----END OPENSSH PRIVATE KEY-----", "%s@%s:~$ ls" % (u, h)])
    return text, [("secret", body[0]), ("secret", body[-1]), ("user", u), ("host", h)], []


def t_ticket(g):
    e, ph, ssn, u = g.email(), g.phone(), g.ssn(), g.user()
    dsn_pw, pw = g.password(), g.password()
    text = "\n".join([
        "Customer reports GPU job failing. Contact: %s, phone %s." % (e, ph),
        "Account holder SSN: %s (verified)." % ssn,
        "Server=sql01;Database=jobs;User Id=%s;Password=%s;" % (u, dsn_pw),
        "config.yaml:", "  db:", "    username: %s" % u, '    password: "%s"' % pw,
        "Running with torch 2.3.1+cu121, model %s." % g.pick(MODELS)])
    return text, [("email", e), ("phone", ph), ("national_id", ssn), ("user", u), ("secret", dsn_pw), ("secret", pw)], ["2.3.1+cu121", "config.yaml"]


TUNE = [t_env_dump, t_dotenv, t_history, t_kubeconfig, t_traceback, t_nvidia_smi, t_dmidecode,
        t_authlog, t_applog, t_csv, t_netrc_pgpass, t_pipconf, t_service_account, t_ip_addr]
HELD_OUT = [t_cloud_config, t_ssh_key, t_ticket]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--split", choices=["tune", "report"], required=True)
    ap.add_argument("--records", type=int, default=1200)
    a = ap.parse_args()
    g = Gen(a.seed)
    templates = TUNE + (HELD_OUT if a.split == "report" else [])
    for i in range(a.records):
        t = templates[i % len(templates)] if i < len(templates) else g.pick(templates)
        text, planted, benign = t(g)
        extra = [g.benign() for _ in range(g.r.randint(1, 3))]
        text += "\n" + "  ".join("note: %s" % b for b in extra)
        rec = {"template": t.__name__[2:], "text": text,
               "planted": [{"category": c, "value": v} for c, v in planted],
               "benign": benign + extra}
        print(json.dumps(rec))


if __name__ == "__main__":
    main()
