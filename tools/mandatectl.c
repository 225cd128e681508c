/* placeholder until mandatectl lands */
int main(void)
{
    return 0;
}
