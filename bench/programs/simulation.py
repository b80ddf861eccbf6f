# A small simulation: Conway's game of life on a torus, plus particles on a grid
# driven by a linear congruential generator.
N = 40
R = 12  # quick: 2


def step(grid, n):
    new = []
    for y in range(n):
        row = grid[y]
        up = grid[(y - 1) % n]
        down = grid[(y + 1) % n]
        out = []
        for x in range(n):
            l = (x - 1) % n
            r = (x + 1) % n
            k = up[l] + up[x] + up[r] + row[l] + row[r] + down[l] + down[x] + down[r]
            out.append(1 if k == 3 or (k == 2 and row[x]) else 0)
        new.append(out)
    return new


def rand(state):
    return (state * 1103515245 + 12345) % 2147483648


def main(N):
    seed = 12345

    grid = []
    for y in range(N):
        row = []
        for x in range(N):
            seed = rand(seed)
            row.append(1 if seed % 3 == 0 else 0)
        grid.append(row)
    acc = 0
    for gen in range(N * 2):
        grid = step(grid, N)
        acc += sum(sum(r) for r in grid)

    particles = []
    for i in range(N * 25):
        seed = rand(seed)
        particles.append([seed % N, (seed // N) % N, 1, -1])
    occupancy = {}
    for t in range(N * 2):
        occupancy = {}
        for p in particles:
            p[0] += p[2]
            p[1] += p[3]
            if p[0] < 0 or p[0] >= N:
                p[2] = -p[2]
                p[0] += 2 * p[2]
            if p[1] < 0 or p[1] >= N:
                p[3] = -p[3]
                p[1] += 2 * p[3]
            cell = (p[0], p[1])
            occupancy[cell] = occupancy.get(cell, 0) + 1
        acc += len(occupancy)
    return acc


total = 0
for r in range(R):
    total += main(N)
print("simulation", N, R, total)
