data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:The first two available zones of whichever region the cohort names; pinning zone names would need a table per region. A zone AWS adds later sorts last, so it never enters slice(0, 2), and the subnets are replaced at the next class anyway.
  state = "available"
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 2)
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:Flow logs cost CloudWatch or S3 ingestion for every packet of image pulls and training traffic, and their log group or bucket outlives the 4-hour class; nobody investigates network incidents in a lab VPC that is torn down the same day.
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.name })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

# Public subnets only: a lab cluster needs no NAT gateway ($0.045/h each), and nodes get
# public IPs to pull images. Two AZs because EKS requires subnets in at least two.
resource "aws_subnet" "public" {
  #checkov:skip=CKV_AWS_130:Nodes take public IPs to pull images because a lab has no NAT gateway ($0.045/h plus $0.045/GB per team); the nodes' security group (managed by EKS) admits no traffic from the internet.
  count                   = 2
  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.cidr_block, 4, count.index)
  map_public_ip_on_launch = true
  tags = merge(var.tags, {
    Name                                        = "${var.name}-public-${count.index}"
    "kubernetes.io/role/elb"                    = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count          = 2
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# The VPC's default security group allows all traffic between its members and all egress. Nothing
# here uses it (EKS gives the cluster and nodes their own group), so it is emptied: a resource
# that lands in it by mistake gets no network access at all. Destroy leaves the group (it goes
# with the VPC) and only forgets it.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-deny-all" })
}
