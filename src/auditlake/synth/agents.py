"""User agents and client descriptions, by laptop operating system.

One table per client kind, so every source describes the same person's laptop the same way:
an Okta `client.userAgent`, a CloudTrail console `userAgent` and a GitHub web session agree.
"""

from __future__ import annotations

BROWSERS: dict[str, tuple[str, str, str]] = {
    "windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0",
        "Windows 10",
        "EDGE_CHROMIUM",
    ),
    "macos": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
        "Mac OS X",
        "CHROME",
    ),
    "linux": (
        "Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0",
        "Linux",
        "FIREFOX",
    ),
}
"""OS → (raw user agent, Okta `os`, Okta `browser`)."""

AWS_CLI: dict[str, str] = {
    "windows": "aws-cli/2.24.10 md/awscrt#0.23.8 ua/2.1 os/windows#10 md/arch#amd64 lang/python#3.12.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe",
    "macos": "aws-cli/2.24.10 md/awscrt#0.23.8 ua/2.1 os/macos#24.3.0 md/arch#arm64 lang/python#3.12.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source",
    "linux": "aws-cli/2.24.10 md/awscrt#0.23.8 ua/2.1 os/linux#6.8.0-55-generic md/arch#x86_64 lang/python#3.12.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe",
}

KUBECTL: dict[str, str] = {
    "windows": "kubectl.exe/v1.31.4 (windows/amd64) kubernetes/a78aa47",
    "macos": "kubectl/v1.31.4 (darwin/arm64) kubernetes/a78aa47",
    "linux": "kubectl/v1.31.4 (linux/amd64) kubernetes/a78aa47",
}

GIT = "git/2.47.1"
GCLOUD = "google-cloud-sdk gcloud/510.0.0 command/gcloud.storage.ls invocation-id/0 environment/None environment-version/None client-os/MACOSX client-os-ver/24.3.0 client-pltf-arch/arm"
TERRAFORM = "APN/1.0 HashiCorp/1.0 Terraform/1.10.5 (+https://www.terraform.io) terraform-provider-aws/5.88.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.36.1 ua/2.1 os/linux lang/go#1.23.6 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.203.1"
BOTO3 = "Boto3/1.37.4 md/Botocore#1.37.4 ua/2.1 os/linux#5.10.233-224.894.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.37.4"
AWS_SDK_GO = "aws-sdk-go-v2/1.36.1 ua/2.1 os/linux lang/go#1.23.6 md/GOOS#linux md/GOARCH#amd64 exec-env/AWS_ECS_FARGATE"
